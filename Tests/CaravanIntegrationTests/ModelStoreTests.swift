import CaravanTestSupport
import Foundation
import Testing

@Suite struct ModelStoreTests {
  @Test func pullFillsTheStoreInOllamasLayoutAndListReadsIt() async throws {
    let store = try TestPaths.temporaryDirectory("store").appendingPathComponent("shared models")
    let pull = try await caravan(["models", "pull", "gemma:7b", "--store", store.path, "--simulator"])
    #expect(pull.status == 0, "\(pull.stderr)")
    // Not a terminal: plain progress lines with bytes, rate and ETA, ending in success.
    let lines = pull.stdout.split(separator: "\n")
    #expect(lines.contains { $0.contains("100%") && $0.contains("/s") && $0.contains("ETA") }, "\(pull.stdout)")
    #expect(lines.contains("gemma:7b: success"))
    let manifest = store.appendingPathComponent("manifests/registry.ollama.ai/library/gemma/7b")
    #expect(FileManager.default.fileExists(atPath: manifest.path))
    let blobs = try FileManager.default.contentsOfDirectory(atPath: store.appendingPathComponent("blobs").path)
    #expect(blobs.count == 1 && blobs[0].hasPrefix("sha256-"))

    let list = try await caravan(["models", "list", "--store", store.path])
    #expect(list.status == 0)
    #expect(list.stdout.split(separator: "\n").contains { $0.hasPrefix("gemma:7b ") && $0.hasSuffix("ok") }, "\(list.stdout)")
  }

  @Test func submitRefusesAJobWhoseModelIsNotInTheStore() async throws {
    let dir = try TestPaths.temporaryDirectory("missing-model")
    let store = dir.appendingPathComponent("store")
    // The store has gemma:7b but the Modelfile variant needs llama3.2.
    #expect(try await caravan(["models", "pull", "gemma:7b", "--store", store.path, "--simulator"]).status == 0)
    try "{\"id\": \"a\", \"prompt\": \"x\"}\n".write(to: dir.appendingPathComponent("p.jsonl"), atomically: true, encoding: .utf8)
    try """
      name: needs-models
      model: gemma:7b
      prompts: p.jsonl
      engine: {kind: sim, models_dir: '\(store.path)'}
      variants:
        - name: plain
        - name: other
          modelfile: |
            FROM llama3.2
      container: {runtime: none}
      executor: local
      """.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    // validate and submit refuse it alike, as bad input.
    let validated = try await caravan(["validate", "job.yaml"], in: dir)
    #expect(validated.status == 64 && validated.stderr.contains("lacks a model this job needs: llama3.2"), "\(validated.stderr)")
    let refused = try await caravan(["submit", "job.yaml"], in: dir)
    #expect(refused.status == 64)
    #expect(refused.stderr.contains("lacks a model this job needs: llama3.2"), "\(refused.stderr)")
    #expect(refused.stderr.contains("caravan models pull llama3.2 --store \(store.path)"))
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs").path))

    // After the pull the same job runs, and its simulator serves the store's models.
    #expect(try await caravan(["models", "pull", "llama3.2", "--store", store.path, "--simulator"]).status == 0)
    let accepted = try await caravan(["submit", "job.yaml", "--json"], in: dir)
    #expect(accepted.status == 0, "\(accepted.stderr)")
    #expect(try jsonObject(accepted.stdout)["ok"] as? Int == 2)
  }
}
