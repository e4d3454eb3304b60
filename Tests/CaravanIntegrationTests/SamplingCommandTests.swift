import CaravanTestSupport
import Testing

@Suite struct SamplingCommandTests {
  /// The tutorial printed these with numpy; the command must reproduce them to 8 decimals.
  @Test(arguments: [
    ("0.1", "[0.08714432 0.23688282 0.0320586 0.64391426]"),
    ("1.0", "[0.23632778 0.26118259 0.21383822 0.28865141]"),
  ])
  func reproducesTheTutorialsNumbers(temperature: String, expected: String) async throws {
    let result = try await caravan(["sampling", "--logits", "0.2,0.3,0.1,0.4", "--temperature", temperature])
    #expect(result.status == 0)
    #expect(result.stdout.split(separator: "\n").first?.hasSuffix(expected) == true, "\(result.stdout)")
  }

  @Test func topKAndTopPRenormalise() async throws {
    let result = try await caravan(["sampling", "--logits", "0.2,0.3,0.1,0.4", "--temperature", "1.0", "--top-k", "2"])
    #expect(result.stdout.contains("after top_k=2:"))
    #expect(result.stdout.split(separator: "\n").last?.hasSuffix("[0.0 0.47502081 0.0 0.52497919]") == true, "\(result.stdout)")
  }

  @Test func badLogitsAreRefused() async throws {
    let result = try await caravan(["sampling", "--logits", "0.2,abc", "--temperature", "1"])
    #expect(result.status == 64)
    #expect(result.stderr.contains("--logits must be numbers"))
  }
}
