import Testing

@testable import CaravanCore

/// Spec rules that protect a job on a shared cluster.
@Suite struct SiteRuleTests {
  let base = "name: t\nmodel: gemma:7b\nprompts: p.jsonl\ncontainer: {runtime: none}\n"

  @Test("a grace period not shorter than the time limit", arguments: [("\"2\"", 120), ("\"00:02:00\"", 120), ("\"1\"", 300)])
  func graceNotShorterThanTime(time: String, grace: Int) {
    let problems = specProblems(base + "slurm: {time: \(time), grace: \(grace)}\n")
    #expect(problems.contains { $0.keyPath == "slurm.grace" && $0.message.contains("not shorter than slurm.time") }, "\(problems)")
  }

  @Test func aGraceShorterThanTheLimitIsFine() throws {
    #expect(try SpecParser.parse(base + "slurm: {time: \"00:03:00\", grace: 120}\n", file: "job.yaml").slurm.grace == 120)
  }

  @Test("a server address beyond the node", arguments: ["0.0.0.0:11434", "0.0.0.0", "http://10.1.2.3:11434", "[::]:11434", "node17:11434"])
  func nonLoopbackHostIsRefused(host: String) {
    let problems = specProblems(base + "engine: {env: {OLLAMA_HOST: \"\(host)\"}}\n")
    #expect(problems.contains { $0.keyPath == "engine.env.OLLAMA_HOST" && $0.message.contains("beyond this node") }, "\(problems)")
  }

  @Test("loopback addresses", arguments: ["127.0.0.1:11434", "localhost:8080", "[::1]:11434", "http://127.0.0.1:9"])
  func loopbackHostIsAccepted(host: String) throws {
    _ = try SpecParser.parse(base + "engine: {env: {OLLAMA_HOST: \"\(host)\"}}\n", file: "job.yaml")
  }
}
