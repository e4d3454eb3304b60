@testable import CaravanCore
import Testing

/// Plans are counted before they are built.
@Suite("Plan limits")
struct PlanLimitsTests {
  func problem(_ text: String, prompts: Int = 1, filter: [String]? = nil) throws -> Problem? {
    let spec = try SpecParser.parse(text, file: "job.yaml")
    let list = (1...prompts).map { prompt("p\($0)", line: $0, variants: filter) }
    let error = #expect(throws: InputError.self) { try PlanLimits.check(spec: spec, prompts: list, specText: text, specFile: "job.yaml") }
    return error?.problems.first
  }

  @Test("repeats × variants × prompts is refused above the maximum, with the count and the keys")
  func tooManyItems() throws {
    let text = minimalSpec + "repeats: 1000000\nvariants:\n  - {name: a}\n  - {name: b, options: {top_k: 3}}\n  - {name: c, options: {top_k: 4}}\n"
    let found = try problem(text, prompts: 20000)
    #expect(found?.keyPath == "repeats")
    #expect(found?.line == line(of: "repeats:", in: text))
    #expect(found?.message == "repeats 1000000 × 3 variants × 20000 prompts = 60,000,000,000 items; the most is 10,000,000 (lower repeats, or split the prompts or variants over several specs)")
  }

  @Test("a count past Int's range is refused, not overflowed")
  func overflow() throws {
    let found = try problem(minimalSpec + "repeats: 9223372036854775807\nsweep:\n  temperature: [0.1, 0.2]\n", prompts: 3)
    #expect(found?.message.hasPrefix("repeats 9223372036854775807 × 2 variants × 3 prompts = more than 9,223,372,036,854,775,807 items; the most is 10,000,000") == true)
  }

  @Test("prompts that name their variants are counted with only those")
  func filteredPrompts() throws {
    let text = minimalSpec + "repeats: 4000000\nvariants:\n  - {name: a}\n  - {name: b, options: {top_k: 3}}\n"
    let found = try problem(text, prompts: 3, filter: ["a"])
    #expect(found?.message.hasPrefix("repeats 4000000 × 3 prompt-variant pairs (3 prompts, 2 variants; some prompts name their own) = 12,000,000 items") == true)
  }

  @Test("a sweep's product is refused above the maximum before it is formed")
  func tooManyVariants() throws {
    let values = (1...1000).map(String.init).joined(separator: ", ")
    let text = minimalSpec + "sweep:\n  seed: [\(values)]\n  top_k: [\(values)]\n  num_ctx: [\(values)]\n"
    let found = try problem(text)
    #expect(found?.keyPath == "sweep")
    #expect(found?.message == "the sweep makes seed (1,000 values) × top_k (1,000 values) × num_ctx (1,000 values) = 1,000,000,000 variants; the most is 10,000 (sweep fewer values, or split the job into several specs)")
    // Whoever lists the sweep's names past the limit gets none, not a billion.
    #expect(Planner.sweepVariantNames(try SpecParser.parse(text, file: "job.yaml").sweep).isEmpty)
  }

  @Test("at the maximum itself the plan is allowed")
  func atTheLimit() throws {
    let spec = try SpecParser.parse(minimalSpec + "repeats: 10000000\n", file: "job.yaml")
    try PlanLimits.check(spec: spec, prompts: [prompt("p", line: 1)], specText: "", specFile: "job.yaml")
    #expect(PlanLimits.variantCount(spec) == 1)
  }
}
