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
    #expect(result.stderr.contains("--logits element 2 of 2 ('abc') is not a number"), "\(result.stderr)")
  }

  /// Each of these printed NaN (or dropped an element) and exited 0.
  @Test(arguments: [
    (["--logits", "nan,0.1"], "--logits element 1 of 2 is nan; logits must be finite numbers"),
    (["--logits", "0.1,inf"], "--logits element 2 of 2 is inf; logits must be finite numbers"),
    (["--logits", "0.1,,0.3"], "--logits element 2 of 3 is empty ('0.1,,0.3')"),
    (["--logits", "0.1,0.3,"], "--logits element 3 of 3 is empty"),
    (["--logits", ""], "--logits element 1 of 1 is empty"),
    (["--logits", "0.2,0.3", "--temperature", "1e-320"], "--temperature 1e-320 is too small to divide by"),
    (["--logits", "0.2,0.3", "--temperature", "nan"], "--temperature must be a finite number, 0 or more"),
    (["--logits", "0.2,0.3", "--temperature", "inf"], "--temperature must be a finite number, 0 or more"),
    (["--logits", "0.2,0.3", "--top-p", "nan"], "--top-p must be between 0 and 1; got nan"),
  ])
  func nonFiniteOrMissingNumbersAreRefused(arguments: [String], message: String) async throws {
    let result = try await caravan(["sampling"] + arguments)
    #expect(result.status == 64, "\(result.stdout)")
    #expect(result.stderr.contains(message), "\(result.stderr)")
    #expect(!result.stdout.contains("nan"))
  }

  @Test func temperatureZeroIsTheArgmax() async throws {
    let result = try await caravan(["sampling", "--logits", "0.2,0.9,0.1", "--temperature", "0"])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.hasPrefix("softmax(logits / 0.0): [0.0 1.0 0.0]"), "\(result.stdout)")
  }
}
