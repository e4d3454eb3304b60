import CaravanTestSupport
import Foundation
import Testing

@Suite struct ContainerCommandTests {
  @Test(arguments: ["ollama", "vllm", "llamacpp"])
  func defCommandWritesTheCheckedInDefinitionAndChecksIt(engine: String) async throws {
    let out = try TestPaths.temporaryDirectory("def-\(engine)").appendingPathComponent("\(engine).def")
    // ollama is the default engine; naming it must give the same file.
    let written = try await caravan(["container", "def", "--engine", engine, "--out", out.path])
    #expect(written.status == 0, "\(written.stderr)")
    #expect(written.stdout.contains("caravan container build --def \(out.path)"))
    let checkedIn = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent("apptainer/\(engine).def"), encoding: .utf8)
    #expect(try String(contentsOf: out, encoding: .utf8) == checkedIn)
    let checked = try await caravan(["container", "def", "--check", out.path])
    #expect(checked.status == 0 && checked.stdout.contains("ok"), "\(checked.stderr)")
  }

  @Test func defCommandPinsTagsAndRefusesContradictions() async throws {
    #expect(try await caravan(["container", "def"]).stdout.contains("From: ollama/ollama:0.12.11\n"))
    #expect(try await caravan(["container", "def", "--ollama-version", "0.9.0"]).stdout.contains("From: ollama/ollama:0.9.0\n"))
    #expect(try await caravan(["container", "def", "--engine-version", "0.9.0"]).stdout.contains("From: ollama/ollama:0.9.0\n"))
    let cuda12 = try await caravan(["container", "def", "--engine", "vllm", "--engine-version", "v0.31.0-cu129"])
    #expect(cuda12.stdout.contains("From: vllm/vllm-openai:v0.31.0-cu129\n"), "\(cuda12.stderr)")
    #expect(try await caravan(["container", "def", "--engine", "llamacpp", "--engine-version", "server-cuda13-b11206"]).stdout.contains("From: ghcr.io/ggml-org/llama.cpp:server-cuda13-b11206\n"))

    let wrongEngine = try await caravan(["container", "def", "--engine", "vllm", "--ollama-version", "0.9.0"])
    #expect(wrongEngine.status == 64)
    #expect(wrongEngine.stderr.contains("--ollama-version is for --engine ollama; use --engine-version"), "\(wrongEngine.stderr)")
    let disagree = try await caravan(["container", "def", "--ollama-version", "0.9.0", "--engine-version", "0.10.0"])
    #expect(disagree.status == 64 && disagree.stderr.contains("disagree"), "\(disagree.stderr)")
    let badTag = try await caravan(["container", "def", "--engine", "vllm", "--engine-version", "v1\nBootstrap: docker"])
    #expect(badTag.status == 64 && badTag.stderr.contains("is not an image tag"), "\(badTag.stderr)")
    let unknown = try await caravan(["container", "def", "--engine", "sglang"])
    #expect(unknown.status == 64 && unknown.stderr.contains("vllm"), "\(unknown.stderr)")
  }

  @Test func checkReportsStructuralProblemsWithTheirLines() async throws {
    let out = try TestPaths.temporaryDirectory("def").appendingPathComponent("ollama.def")
    try "Bootstrap: docker\n%post\n  true\n%post\n".write(to: out, atomically: true, encoding: .utf8)
    let bad = try await caravan(["container", "def", "--check", out.path])
    #expect(bad.status == 64)
    #expect(bad.stderr.contains("ollama.def:2: stage 1 has Bootstrap but no From:"), "\(bad.stderr)")
    #expect(bad.stderr.contains("ollama.def:4: %post appears twice"))
  }

  @Test func buildWithoutApptainerSaysHowToGetIt() async throws {
    let result = try await runCommand(try TestPaths.binary("caravan"), ["container", "build"], in: TestPaths.packageRoot, environment: ["PATH": "/usr/bin:/bin"])
    #expect(result.status == 1)
    #expect(result.stderr.contains("apptainer is not on PATH"), "\(result.stderr)")
    #expect(result.stderr.contains("module load apptainer"))
  }

  @Test func buildRunsApptainerWithCacheOnScratchAndTheCommitLabel() async throws {
    let dir = try TestPaths.temporaryDirectory("build")
    let bin = dir.appendingPathComponent("bin")
    try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
    let record = dir.appendingPathComponent("apptainer-call")
    try writeExecutable(
      """
      #!/bin/bash
      { printf '%s\\n' "$@"; echo "CACHE=$APPTAINER_CACHEDIR"; echo "TMP=$APPTAINER_TMPDIR"; } > '\(record.path)'
      """, to: bin.appendingPathComponent("apptainer").path)
    let scratch = dir.appendingPathComponent("scratch")
    let result = try await runCommand(try TestPaths.binary("caravan"), ["container", "build", "--sif", dir.appendingPathComponent("o.sif").path, "--scratch", scratch.path], in: TestPaths.packageRoot, environment: ["PATH": bin.path + ":/usr/bin:/bin"])
    #expect(result.status == 0, "\(result.stderr)")
    let call = try String(contentsOf: record, encoding: .utf8).split(separator: "\n").map(String.init)
    #expect(call.first == "build")
    #expect(call.contains("--build-arg"))
    #expect(call.contains { $0.hasPrefix("commit=") && $0 != "commit=unknown" }, "\(call)")
    #expect(call.contains("apptainer/ollama.def"))
    #expect(call.contains("CACHE=\(scratch.path)/apptainer-cache"))
    #expect(call.contains("TMP=\(scratch.path)/apptainer-tmp"))
    #expect(FileManager.default.fileExists(atPath: scratch.path + "/apptainer-cache"))
  }

  /// Another engine's definition builds the same way, into an image named after it.
  @Test func buildTakesAnyEnginesDefinition() async throws {
    let dir = try TestPaths.temporaryDirectory("build-vllm")
    let bin = dir.appendingPathComponent("bin")
    try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
    let record = dir.appendingPathComponent("apptainer-call")
    try writeExecutable(
      """
      #!/bin/bash
      printf '%s\\n' "$@" > '\(record.path)'
      """, to: bin.appendingPathComponent("apptainer").path)
    let environment = ["PATH": bin.path + ":/usr/bin:/bin"]
    let scratch = ["--scratch", dir.appendingPathComponent("scratch").path]
    let result = try await runCommand(try TestPaths.binary("caravan"), ["container", "build", "--def", "apptainer/vllm.def"] + scratch, in: TestPaths.packageRoot, environment: environment)
    #expect(result.status == 0, "\(result.stderr)")
    let call = try String(contentsOf: record, encoding: .utf8).split(separator: "\n").map(String.init)
    #expect(Array(call.suffix(2)) == ["vllm.sif", "apptainer/vllm.def"], "\(call)")

    let missing = dir.appendingPathComponent("llamacpp.def").path
    let absent = try await runCommand(try TestPaths.binary("caravan"), ["container", "build", "--def", missing] + scratch, in: TestPaths.packageRoot, environment: environment)
    #expect(absent.status == 1)
    #expect(absent.stderr.contains("write it with `caravan container def --engine llamacpp --out \(missing)`"), "\(absent.stderr)")
  }
}
