import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

@testable import CaravanRender

@Suite struct ApptainerDefinitionTests {
  typealias Engine = ApptainerDefinition.Engine

  @Test(arguments: Engine.allCases)
  func checkedInDefinitionIsWhatTheCommandGenerates(engine: Engine) throws {
    let checkedIn = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent(engine.checkedInPath), encoding: .utf8)
    let generated = ApptainerDefinition(engine: engine, caravanVersion: "0.1.0").render()
    #expect(checkedIn == generated, "\(engine.checkedInPath) is stale: run `caravan container def --engine \(engine.rawValue) --out \(engine.checkedInPath)`")
  }

  /// The tags are spelled out, so a new default tag shows in the checked-in files, not here.
  @Test(arguments: [(Engine.ollama, "0.12.11"), (.vllm, "v0.31.0"), (.llamacpp, "server-cuda-b11206")])
  func definitionMatchesGolden(engine: Engine, tag: String) throws {
    let text = ApptainerDefinition(engine: engine, engineVersion: tag, caravanVersion: "9.9.9").render()
    let mismatch = try goldenMismatch(text, golden: ScriptRendererTests.snapshots.appendingPathComponent("\(engine.rawValue).def.golden"))
    #expect(mismatch == nil, "\(mismatch ?? "")")
  }

  @Test func ollamaVersionStillPinsOllama() {
    #expect(ApptainerDefinition(ollamaVersion: "0.9.0", caravanVersion: "1").render() == ApptainerDefinition(engine: .ollama, engineVersion: "0.9.0", caravanVersion: "1").render())
    #expect(ApptainerDefinition(caravanVersion: "1").engine == .ollama)
  }

  @Test(arguments: Engine.allCases)
  func everyEngineGetsTheWorkerOnItsPinnedImage(engine: Engine) {
    let text = ApptainerDefinition(engine: engine, caravanVersion: "1.2.3").render()
    #expect(DefinitionLint.problems(in: text).isEmpty, "\(DefinitionLint.problems(in: text))")
    #expect(text.hasPrefix("Bootstrap: docker\nFrom: swift:"))
    #expect(text.contains("From: \(engine.image):\(engine.defaultVersion)\nStage: final\n"))
    #expect(text.contains("%files from build\n    /src/caravan/.build/release/caravan /usr/local/bin/caravan"))
    #expect(text.contains("--static-swift-stdlib"))
    #expect(text.contains("caravan container build --def \(engine.checkedInPath)"))
    #expect(text.contains("    caravan --version\n"))
    #expect(text.contains("org.caravan.version 1.2.3") && text.contains("org.caravan.commit {{ commit }}"))
    #expect(text.contains("org.caravan.engine \(engine.rawValue)\n") && text.contains("org.\(engine.rawValue).version \(engine.defaultVersion)\n"))
    #expect(!text.contains(" \n"), "no trailing blanks")
  }

  /// What each image serves, and the spec lines its %help gives: the server must listen on
  /// loopback at $PORT and answer to the spec's model name, or the worker cannot reach it.
  @Test func eachEngineServesAndDescribesItsSpecLine() {
    let ollama = ApptainerDefinition(engine: .ollama, caravanVersion: "1").render()
    #expect(ollama.contains("From: ollama/ollama:0.12.11\n"))
    #expect(ollama.contains("export OLLAMA_HOST=127.0.0.1:11434"))
    #expect(ollama.contains("%runscript\n    exec ollama serve \"$@\""))
    #expect(ollama.contains("%test\n    ollama --version\n    caravan --version"))
    #expect(ollama.contains("kind: ollama\n        command: ollama serve\n"))

    let vllm = ApptainerDefinition(engine: .vllm, caravanVersion: "1").render()
    #expect(vllm.contains("From: vllm/vllm-openai:v0.31.0\n"))
    #expect(vllm.contains("%runscript\n    exec vllm serve \"$@\""))
    #expect(vllm.contains("%test\n    vllm --version\n    caravan --version"))
    #expect(vllm.contains("kind: openai\n        command: vllm serve /models/Qwen3-8B --served-model-name $MODEL --host 127.0.0.1 --port $PORT --max-num-seqs $PARALLEL\n"))
    #expect(vllm.contains("export VLLM_NO_USAGE_STATS="))

    let llamacpp = ApptainerDefinition(engine: .llamacpp, caravanVersion: "1").render()
    #expect(llamacpp.contains("From: ghcr.io/ggml-org/llama.cpp:server-cuda-b11206\n"))
    // The image sets LLAMA_ARG_HOST=0.0.0.0 and keeps llama-server in /app, off PATH.
    #expect(llamacpp.contains("export LLAMA_ARG_HOST=127.0.0.1\n"))
    #expect(llamacpp.contains("export PATH=\"/app:$PATH\"\n"))
    #expect(llamacpp.contains("%runscript\n    exec llama-server \"$@\""))
    #expect(llamacpp.contains("%test\n    llama-server --version\n    caravan --version"))
    #expect(llamacpp.contains("kind: openai\n        command: llama-server -m /models/model.gguf --host 127.0.0.1 --port $PORT -np $PARALLEL --alias $MODEL"))
  }

  @Test func engineVersionPinsAnotherTag() {
    let text = ApptainerDefinition(engine: .vllm, engineVersion: "v0.31.0-cu129", caravanVersion: "1").render()
    #expect(text.contains("From: vllm/vllm-openai:v0.31.0-cu129\n"))
    #expect(text.contains("org.vllm.version v0.31.0-cu129\n"))
    #expect(DefinitionLint.problems(in: text).isEmpty)
  }

  @Test func tagsAreDockerTags() {
    for tag in ["0.12.11", "v0.31.0-cu129", "server-cuda-b11206", "latest", "_x"] { #expect(ApptainerDefinition.isValidTag(tag), "\(tag)") }
    for tag in ["", "-rc", ".1", "1 2", "a/b", "a:b", "v1\nBootstrap: docker", String(repeating: "a", count: 129), "é"] {
      #expect(!ApptainerDefinition.isValidTag(tag), "\(tag)")
    }
  }

  @Test func linterFindsStructuralMistakes() {
    let bad = """
      From: ollama/ollama:1
      Bootstrap: docker
      %post
          echo hi
      %environment
      %post
      %postt
      """
    let found = DefinitionLint.problems(in: bad)
    #expect(found.contains { $0.line == 6 && $0.message.contains("%post appears twice") })
    #expect(found.contains { $0.line == 7 && $0.message.contains("unknown section %postt") })
    #expect(DefinitionLint.problems(in: "%post\n  true\n").contains { $0.message.contains("header") })
    #expect(DefinitionLint.problems(in: "Bootstrap: docker\n%post\n").contains { $0.message.contains("no From:") })
    // Each stage of a multi-stage file has its own sections.
    #expect(DefinitionLint.problems(in: "Bootstrap: docker\nFrom: a\nStage: one\n%post\nBootstrap: docker\nFrom: b\n%files from one\n%post\n").isEmpty)
  }
}

@Suite struct ServerLaunchTests {
  static func launch(_ runtime: JobSpec.Container.Runtime, flags: [String]) -> ServerLaunch {
    ServerLaunch(runtime: runtime, image: "/images/my ollama.sif", flags: flags, binds: ["/data:/data:ro"], command: runtime == .none ? "ollama serve" : "ollama serve", modelsDir: "/scratch/shared models", parallel: 4, env: ["OLLAMA_LOAD_TIMEOUT": "45m"], model: "gemma:7b")
  }

  @Test(arguments: [
    ("server-apptainer-nv", JobSpec.Container.Runtime.apptainer, ["--nv"]),
    ("server-apptainer-nvccli", .apptainer, ["--nvccli"]),
    ("server-apptainer-containall", .apptainer, ["--nv", "--containall"]),
    ("server-none", .none, []),
  ])
  func containerInvocationMatchesGolden(name: String, runtime: JobSpec.Container.Runtime, flags: [String]) throws {
    let text = Self.launch(runtime, flags: flags).script(origin: "0.1.0 from job.yaml (run r-1)")
    let mismatch = try goldenMismatch(text, golden: ScriptRendererTests.snapshots.appendingPathComponent("\(name).golden"))
    #expect(mismatch == nil, "\(mismatch ?? "")")
  }

  @Test func batchDefaultsAreSetAndUserEnvWins() {
    let environment = Dictionary(uniqueKeysWithValues: Self.launch(.apptainer, flags: ["--nv"]).environment)
    #expect(environment["OLLAMA_NUM_PARALLEL"] == "4")
    #expect(environment["OLLAMA_KEEP_ALIVE"] == "-1")
    #expect(environment["OLLAMA_NOPRUNE"] == "1")
    #expect(environment["OLLAMA_LOAD_TIMEOUT"] == "45m")
    #expect(environment["OLLAMA_MODELS"] == "/scratch/shared models")
  }

  /// Runs the container part for real against a stand-in `apptainer` that applies Apptainer's
  /// environment rules: host variables, then the image's ENV (OLLAMA_HOST=0.0.0.0:11434), then
  /// --env, which wins; --containall/--cleanenv drop host variables.
  @Test(arguments: [["--nv"], ["--nvccli"], ["--nv", "--containall"]])
  func serverSeesOnlyLoopbackAndTheSpecsPaths(flags: [String]) async throws {
    let dir = try TestPaths.temporaryDirectory("fake-apptainer")
    let bin = dir.appendingPathComponent("bin")
    try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
    try writeExecutable(
      """
      #!/bin/bash
      # Stand-in for `apptainer exec`: prints the environment the server would get.
      shift  # exec
      declare -A env=()
      clean=0; home=""; binds=()
      while [ $# -gt 0 ]; do
        case "$1" in
          --nv|--nvccli) shift ;;
          --containall|--cleanenv|-C|-e) clean=1; shift ;;
          --home) home="$2"; shift 2 ;;
          --bind) binds+=("$2"); shift 2 ;;
          --env) env["${2%%=*}"]="${2#*=}"; shift 2 ;;
          -*) echo "unknown flag $1" >&2; exit 9 ;;
          *) break ;;
        esac
      done
      image="$1"; shift
      {
        if [ "$clean" = 0 ]; then echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-}"; fi
        host="0.0.0.0:11434"  # the image's ENV beats host variables
        [ -n "${env[OLLAMA_HOST]:-}" ] && host="${env[OLLAMA_HOST]}"
        echo "OLLAMA_HOST=$host"
        for k in "${!env[@]}"; do [ "$k" = OLLAMA_HOST ] || echo "$k=${env[$k]}"; done
        echo "HOME=${home:-$HOME}"
        for b in "${binds[@]}"; do echo "BIND=$b"; done
        echo "IMAGE=$image"
        echo "COMMAND=$*"
      } > "$FAKE_OUT"
      """, to: bin.appendingPathComponent("apptainer").path)
    let out = dir.appendingPathComponent("seen")
    let script = dir.appendingPathComponent("server.sh")
    try Self.launch(.apptainer, flags: flags).script(origin: "test").write(to: script, atomically: true, encoding: .utf8)
    // The worker runs server.sh with these variables (see SupervisedServer.Launch).
    let result = try await runCommand(
      "/bin/bash", [script.path],
      environment: [
        "PATH": bin.path + ":/usr/bin:/bin", "FAKE_OUT": out.path, "CUDA_VISIBLE_DEVICES": "1", "OLLAMA_HOST": "0.0.0.0:9999",
        "PORT": "41234", "RUN_DIR": "\(dir.path)/run dir", "SERVER_HOME": "\(dir.path)/home dir",
      ])
    #expect(result.status == 0, "\(result.stderr)")
    let seen = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map(String.init)
    #expect(seen.contains("OLLAMA_HOST=127.0.0.1:41234"))
    #expect(seen.filter { $0.hasPrefix("OLLAMA_HOST=") }.count == 1)
    #expect(seen.contains("HOME=\(dir.path)/home dir"))
    #expect(seen.contains("OLLAMA_MODELS=/scratch/shared models"))
    #expect(seen.contains("BIND=/scratch/shared models"))
    #expect(seen.contains("BIND=\(dir.path)/run dir"))
    #expect(seen.contains("IMAGE=/images/my ollama.sif"))
    #expect(seen.contains("COMMAND=ollama serve"))
    // Slurm's GPU choice reaches the server even when host variables are dropped.
    #expect(seen.contains("CUDA_VISIBLE_DEVICES=1"), "\(seen)")
  }
}

extension ServerLaunchTests {
  /// server.sh refuses to start without the variables the worker sets, rather than binding 11434.
  @Test func serverScriptNeedsItsVariables() async throws {
    let script = try TestPaths.temporaryDirectory("server-vars").appendingPathComponent("server.sh")
    try Self.launch(.none, flags: []).script(origin: "test").write(to: script, atomically: true, encoding: .utf8)
    let result = try await runCommand("/bin/bash", [script.path], environment: ["PATH": "/usr/bin:/bin"])
    #expect(result.status != 0)
    #expect(result.stderr.contains("PORT"))
  }
}
