import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

@testable import CaravanRun

@Suite struct RunDirectoryTests {
  @Test func badPromptFileWritesNothing() throws {
    let dir = try TestPaths.temporaryDirectory("bad")
    try smallSpec.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    try "{\"id\": \"a\", \"prompt\": \"x\"}\n{not json}\n".write(to: dir.appendingPathComponent("prompts.jsonl"), atomically: true, encoding: .utf8)
    let preparer = RunPreparer(caravanPath: "/usr/bin/true", simulatorPath: "/usr/bin/true", version: "test")
    #expect(throws: InputError.self) { try preparer.prepare(specPath: dir.appendingPathComponent("job.yaml").path, runDir: nil) }
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs").path))
  }

  @Test func runDirectoryIsPrivateAndComplete() throws {
    let prepared = try prepareRun(spec: smallSpec, prompts: smallPrompts)
    let attributes = try FileManager.default.attributesOfItem(atPath: prepared.run.path)
    #expect((attributes[.posixPermissions] as? Int) == 0o700)
    for path in [prepared.run.layout.manifest, prepared.run.layout.resolvedSpec, prepared.run.layout.specCopy, prepared.run.layout.script, prepared.run.layout.shardFile(0)] {
      #expect(FileManager.default.fileExists(atPath: path), "\(path)")
    }
    for folder in ["results", "logs", "shards"] {
      #expect(FileManager.default.fileExists(atPath: prepared.run.path + "/" + folder))
    }
    let manifest = try prepared.run.manifest()
    #expect(manifest.totalItems == 20 && manifest.shards.map(\.items) == [20])
    // No staging folder is left beside it.
    let siblings = try FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: prepared.run.path).deletingLastPathComponent().path)
    #expect(siblings.count == 1)
  }
}
