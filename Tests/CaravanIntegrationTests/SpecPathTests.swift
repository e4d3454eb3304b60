import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

/// Paths in a spec mean the same wherever `caravan submit` runs: relative to the spec file.
@Suite struct SpecPathTests {
  @Test func relativePathsAreWrittenAbsoluteUnderTheSpecFolder() async throws {
    let root = try TestPaths.temporaryDirectory("paths")
    let specs = root.appendingPathComponent("project/specs")
    let elsewhere = root.appendingPathComponent("elsewhere")
    try FileManager.default.createDirectory(at: specs, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
    try #"{"id": "a", "prompt": "hi"}"#.write(to: specs.appendingPathComponent("prompts.jsonl"), atomically: true, encoding: .utf8)
    try """
      name: paths
      model: gemma:7b
      prompts: prompts.jsonl
      output: ../runs
      engine: {models_dir: ../models}
      container:
        image: ../images/ollama.sif
        binds: ["data:/data:ro", "/scratch"]
      """.write(to: specs.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)

    try FakeSite.image(at: root.path + "/project/images/ollama.sif")
    try FakeSite.store(at: root.path + "/project/models", models: ["gemma:7b"])
    // Submitted from another folder, with a relative path to the spec.
    let result = try await runCommand(
      try TestPaths.binary("caravan"), ["submit", "--dry-run", "--json", "../project/specs/job.yaml"], in: elsewhere)
    #expect(result.status == 0, "\(result.stderr)")
    let project = root.appendingPathComponent("project").resolvingSymlinksInPath().path
    let runDir = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])["run_dir"] as? String
    #expect(runDir?.hasPrefix(project + "/runs/paths-") == true, "\(runDir ?? "nil")")

    let resolved = try JSONDecoder().decode(JobSpec.self, from: Data(contentsOf: URL(fileURLWithPath: try #require(runDir) + "/spec.resolved.json")))
    #expect(resolved.prompts == project + "/specs/prompts.jsonl")
    #expect(resolved.engine.modelsDir == project + "/models")
    #expect(resolved.container.image == project + "/images/ollama.sif")
    #expect(resolved.container.binds == [project + "/specs/data:/data:ro", "/scratch"])
    let server = try String(contentsOfFile: try #require(runDir) + "/server.sh", encoding: .utf8)
    #expect(server.contains(" \(project)/images/ollama.sif ollama serve"))
    #expect(server.contains("--bind \(project)/models \\"))
    #expect(server.contains("--bind \(project)/specs/data:/data:ro \\"))
  }

  @Test func pathArithmeticNeverAsksTheFileSystem() {
    #expect(PathText.absolute("../a/./b//c", against: "/x/y") == "/x/a/b/c")
    #expect(PathText.absolute("/abs/../p", against: "/x") == "/p")
    #expect(PathText.absolute("../../../..", against: "/x") == "/")
    #expect(PathText.folder(of: "/a/b/c.yaml") == "/a/b")
    #expect(PathText.folder(of: "/c.yaml") == "/")
  }
}
