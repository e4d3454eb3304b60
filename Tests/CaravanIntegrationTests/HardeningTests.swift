import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

/// Found bugs, each through the command a user ran: bad input gets exit 64 and a located
/// message, and never a trap or a written run.
@Suite struct HardeningTests {
  /// A folder with `job.yaml` (the minimal spec plus `extra`) and a one-line prompt file.
  func job(_ extra: String, model: String = "gemma:7b") throws -> URL {
    let dir = try TestPaths.temporaryDirectory("harden")
    try "{\"id\": \"a\", \"prompt\": \"x\"}\n".write(to: dir.appendingPathComponent("p.jsonl"), atomically: true, encoding: .utf8)
    try "name: harden\nmodel: \(model)\nprompts: p.jsonl\nengine: {kind: sim}\ncontainer: {runtime: none}\n\(extra)"
      .write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    return dir
  }

  /// `validate` and `submit --dry-run` on the job: both refuse with the same message, and
  /// nothing is written.
  func refused(_ dir: URL, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
    let validate = try await caravan(["validate", "job.yaml"], in: dir)
    let submit = try await caravan(["submit", "--dry-run", "job.yaml"], in: dir)
    #expect(validate.status == 64, "\(validate.stdout)\(validate.stderr)", sourceLocation: sourceLocation)
    #expect(submit.status == 64, "\(submit.stdout)\(submit.stderr)", sourceLocation: sourceLocation)
    #expect(validate.stderr == submit.stderr, sourceLocation: sourceLocation)
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs").path), sourceLocation: sourceLocation)
    return validate.stderr
  }

  @Test(arguments: [
    ("sweep: {temperature: [0.5, 0.5]}\n", "job.yaml:6: sweep.temperature[1]: sweep.temperature lists 0.5 twice (values 1 and 2), which makes variant 'temperature=0.5' twice"),
    ("variants:\n  - {name: a, options: {top_k: 3}}\n  - {name: b, options: {top_k: 3}}\n", "job.yaml:8: variants[1].name: variants 'a' (variants[0]) and 'b' (variants[1]) send the same requests"),
    ("sweep: {top_k: [3, 3.0]}\n", "variants 'top_k=3' and 'top_k=3.0' send the same requests"),
  ])
  func duplicateVariantsAreRefusedAtSubmit(extra: String, message: String) async throws {
    let stderr = try await refused(try job(extra))
    #expect(stderr.contains(message), "\(stderr)")
  }

  /// A run whose manifest names a variant twice (written before submit refused that, or edited):
  /// collect trapped with signal 4.
  @Test func collectDoesNotTrapOnAManifestWithADuplicateVariant() async throws {
    let dir = try job("")
    let submitted = try await caravan(["submit", "--dry-run", "--json", "job.yaml"], in: dir)
    #expect(submitted.status == 0, "\(submitted.stderr)")
    let runDir = try #require(try jsonObject(submitted.stdout)["run_dir"] as? String)
    let manifestURL = URL(fileURLWithPath: runDir + "/manifest.json")
    var manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: manifestURL))
    manifest.variants.append(manifest.variants[0])
    try JSONFormats.documentEncoder().encode(manifest).write(to: manifestURL)
    let collected = try await caravan(["collect", "--partial", runDir])
    #expect(collected.status == 0, "\(collected.stderr)")
    #expect(!collected.stderr.contains("Fatal error"))
  }

  /// `caravan models pull` wrote `<store>/../../escaped/x` for this name.
  @Test(arguments: ["../../escaped:x", "a/../../../escaped", "..", "bad name", ".git"])
  func pullRefusesNamesOllamaWouldRefuse(name: String) async throws {
    let root = try TestPaths.temporaryDirectory("escape")
    let store = root.appendingPathComponent("deep/store")
    let result = try await caravan(["models", "pull", name, "--store", store.path, "--simulator"])
    #expect(result.status == 64, "\(result.stdout)\(result.stderr)")
    #expect(result.stderr.contains("'\(name)' is not a valid Ollama model name"), "\(result.stderr)")
    // Nothing was made: not the store, and nothing beside it.
    #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty)
  }

  @Test func listSkipsFoldersThatAreNoModelName() async throws {
    let store = try TestPaths.temporaryDirectory("junk-store")
    #expect(try await caravan(["models", "pull", "gemma:7b", "--store", store.path, "--simulator"]).status == 0)
    for junk in ["manifests/registry.ollama.ai/.hidden/m/t", "manifests/a/b/c/d/e", "manifests/x"] {
      let url = store.appendingPathComponent(junk)
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try #"{"layers": [{"digest": "sha256:../../../etc/passwd", "size": -5}]}"#.write(to: url, atomically: true, encoding: .utf8)
    }
    let list = try await caravan(["models", "list", "--store", store.path])
    #expect(list.status == 0, "\(list.stderr)")
    #expect(list.stdout.split(separator: "\n").count == 2, "\(list.stdout)")
    #expect(list.stdout.contains("gemma:7b "))
  }

  @Test(arguments: [
    ("", "../etc", "job.yaml:2: model: '../etc' is not a valid Ollama model name: the namespace '..' must start with a letter, a digit or '_'"),
    ("variants:\n  - name: m\n    modelfile: |\n      FROM ns.x/model\n", "gemma:7b", "job.yaml:9: variants[0].modelfile: FROM 'ns.x/model' is not a valid Ollama model name: the namespace 'ns.x' contains '.'"),
    ("variants:\n  - name: m\n    modelfile: |\n      # a comment first\n      FROM ./weights.gguf\n", "gemma:7b", "job.yaml:10: variants[0].modelfile: FROM ./weights.gguf is a file"),
    ("variants:\n  - name: \(String(repeating: "v", count: 80))\n    modelfile: FROM gemma:7b\n", "gemma:7b", "variants[0].name: this Modelfile variant creates the Ollama model 'caravan-harden-vvvv"),
  ])
  func badModelNamesAreRefusedAtSubmit(extra: String, model: String, message: String) async throws {
    let stderr = try await refused(try job(extra, model: model))
    #expect(stderr.contains(message), "\(stderr)")
  }

  /// These aborted validate and submit with a Swift fatal error (or ate the machine's memory).
  @Test(arguments: [
    ("repeats: 9223372036854775807\n", "job.yaml:6: repeats: repeats 9223372036854775807 × 1 variant × 1 prompt = 9,223,372,036,854,775,807 items; the most is 10,000,000"),
    ("repeats: 20000000\n", "= 20,000,000 items; the most is 10,000,000"),
    ("sweep:\n  seed: [\((1...200).map(String.init).joined(separator: ","))]\n  top_k: [\((1...200).map(String.init).joined(separator: ","))]\n", "job.yaml:6: sweep: the sweep makes seed (200 values) × top_k (200 values) = 40,000 variants; the most is 10,000"),
  ])
  func plansAreBoundedBeforeTheyAreBuilt(extra: String, message: String) async throws {
    let stderr = try await refused(try job(extra))
    #expect(stderr.contains(message), "\(stderr)")
  }

  /// Each trapped converting a Double to an Int, or overflowed a UInt64.
  @Test(arguments: [
    ("variants: [{name: a, options: {temperature: 1e300}}]\n", 0),
    ("variants: [{name: a, modelfile: \"FROM gemma:7b\\nPARAMETER temperature 1e300\"}]\n", 0),
    ("variants: [{name: a, options: {presence_penalty: 1e999}}]\n", 64),
    ("slurm: {mem: 18446744073709551615K}\n", 0),
  ])
  func hugeNumbersDoNotTrap(extra: String, status: Int32) async throws {
    let result = try await caravan(["validate", "job.yaml"], in: try job(extra))
    #expect(result.status == status, "\(result.stdout)\(result.stderr)")
    #expect(!result.stderr.contains("Fatal error"))
  }

  @Test(arguments: [["--interval", "nan"], ["--interval=-1"], ["--interval", "inf"]])
  func statusIntervalIsChecked(arguments: [String]) async throws {
    let result = try await caravan(["status", "/nonexistent", "--watch"] + arguments)
    #expect(result.status == 64)
    #expect(result.stderr.contains("--interval must be between 0.1 and 86400 seconds"), "\(result.stderr)")
  }

  /// Each became a Duration through Int (or slept for ever) before it was checked.
  @Test(arguments: [
    ("caravan", ["wait-ready", "--url", "http://127.0.0.1:9", "--timeout", "99999999999999"], "--timeout must be between 1 and 2592000 seconds"),
    ("caravan", ["wait-ready", "--url", "http://127.0.0.1:9", "--timeout=-5"], "--timeout must be between 1 and 2592000 seconds"),
    ("ollama-sim", ["--token-ms", "nan"], "--token-ms must be between 0 and 3600000; got nan"),
    ("ollama-sim", ["--load-ms", "1e300"], "--load-ms must be between 0 and 3600000"),
    ("ollama-sim", ["--slots", "0"], "--slots must be 1 or more; got 0"),
  ])
  func durationArgumentsAreChecked(tool: String, arguments: [String], message: String) async throws {
    let result = try await runCommand(try TestPaths.binary(tool), arguments)
    #expect(result.status == 64, "\(result.stdout)\(result.stderr)")
    #expect(result.stderr.contains(message), "\(result.stderr)")
  }

  /// Input the parser would choke on is refused, with the file and the line, before it runs.
  @Test func invalidUTF8IsLocatedAndAnAliasBombIsRefused() async throws {
    let dir = try job("")
    var bytes = Data("{\"id\": \"a\", \"prompt\": \"x\"}\n{\"id\": \"b\", \"prompt\": \"".utf8)
    bytes.append(contentsOf: [0xC3, 0x28])
    bytes.append(Data("\"}\n".utf8))
    try bytes.write(to: dir.appendingPathComponent("p.jsonl"))
    let stderr = try await refused(dir)
    #expect(stderr.contains("job.yaml: prompts: the prompt file \(dir.resolvingSymlinksInPath().path)/p.jsonl:2 is not UTF-8 text: byte 24 of line 2 is not valid UTF-8"), "\(stderr)")

    var bomb = "name: harden\nmodel: gemma:7b\nprompts: p.jsonl\nengine: {kind: sim}\ncontainer: {runtime: none}\nvariants:\n  - name: v\n    options:\n      stop: &s0 [a, a, a, a, a, a, a, a, a]\n"
    for level in 1...8 { bomb += "  - name: v\(level)\n    options:\n      stop: &s\(level) [" + Array(repeating: "*s\(level - 1)", count: 9).joined(separator: ", ") + "]\n" }
    try bomb.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    let refusedBomb = try await refused(dir)
    #expect(refusedBomb.contains("job.yaml:6: variants: 'variants' expands to more than 1,000,000 YAML values"), "\(refusedBomb)")
  }
}
