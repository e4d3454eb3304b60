@testable import CaravanCore
import Testing

/// The sampling maths the simulator and `caravan sampling` use, against values computed by hand.
@Suite("Sampling")
struct SamplingTests {
  let logits = [0.2, 0.3, 0.1, 0.4]

  func expectClose(_ actual: [Double], _ expected: [Double], within tolerance: Double = 5e-9, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    for (a, e) in zip(actual, expected) {
      #expect(abs(a - e) < tolerance, "\(actual) is not \(expected)", sourceLocation: sourceLocation)
    }
  }

  @Test("softmax at temperature 0.1 sharpens towards the largest logit")
  func softmaxLowTemperature() {
    expectClose(Sampling.softmax(logits, temperature: 0.1), [0.08714432, 0.23688282, 0.0320586, 0.64391426])
  }

  @Test("softmax at temperature 1.0 stays close to uniform")
  func softmaxTemperatureOne() {
    expectClose(Sampling.softmax(logits, temperature: 1.0), [0.23632778, 0.26118259, 0.21383822, 0.28865141])
  }

  @Test("softmax is a distribution and does not overflow on large logits")
  func softmaxLargeLogits() {
    let probabilities = Sampling.softmax([1000, 1001, 999], temperature: 0.5)
    #expect(probabilities.allSatisfy { $0.isFinite && $0 >= 0 })
    #expect(abs(probabilities.reduce(0, +) - 1) < 1e-12)
    #expect(probabilities[1] > probabilities[0] && probabilities[0] > probabilities[2])
  }

  @Test("a temperature so small that dividing by it overflows still gives the argmax, never NaN")
  func softmaxTinyTemperature() {
    #expect(Sampling.softmax(logits, temperature: Double.leastNonzeroMagnitude * 2) == [0, 0, 0, 1])  // a subnormal, like --temperature 1e-320
    #expect(Sampling.softmax(logits, temperature: Double.leastNonzeroMagnitude) == [0, 0, 0, 1])
    let spread = Sampling.softmax([-1e308, 1e308, 0], temperature: 1e-300)
    #expect(spread == [0, 1, 0])
  }

  @Test("temperature 0 puts all mass on the largest logit", arguments: [0.0, -1.0])
  func greedy(temperature: Double) {
    #expect(Sampling.softmax(logits, temperature: temperature) == [0, 0, 0, 1])
  }

  @Test("top-k keeps the k most likely and renormalises")
  func topK() {
    let probabilities = [0.1, 0.4, 0.2, 0.3]
    expectClose(Sampling.topK(probabilities, k: 2), [0, 0.4 / 0.7, 0, 0.3 / 0.7], within: 1e-12)
    expectClose(Sampling.topK(probabilities, k: 1), [0, 1, 0, 0], within: 1e-12)
    #expect(Sampling.topK(probabilities, k: 0) == probabilities)
    #expect(Sampling.topK(probabilities, k: 4) == probabilities)
  }

  @Test("top-p keeps the smallest most likely set reaching p and renormalises")
  func topP() {
    let probabilities = [0.1, 0.45, 0.15, 0.3]
    // 0.45 + 0.3 = 0.75 reaches 0.7, so 0.15 and 0.1 are dropped.
    expectClose(Sampling.topP(probabilities, p: 0.7), [0, 0.45 / 0.75, 0, 0.3 / 0.75], within: 1e-12)
    expectClose(Sampling.topP(probabilities, p: 0.2), [0, 1, 0, 0], within: 1e-12)
    #expect(Sampling.topP(probabilities, p: 1) == probabilities)
  }

  @Test("the tutorial's top-k 3 at temperature 0.5 never picks the least likely token")
  func topKAfterSoftmax() {
    let probabilities = Sampling.topK(Sampling.softmax(logits, temperature: 0.5), k: 3)
    #expect(probabilities[2] == 0)
    #expect(abs(probabilities.reduce(0, +) - 1) < 1e-12)
  }

  @Test("pick returns the index whose cumulative probability first exceeds the draw")
  func pick() {
    let probabilities = [0.25, 0, 0.5, 0.25]
    #expect(Sampling.pick(probabilities, uniform: 0) == 0)
    #expect(Sampling.pick(probabilities, uniform: 0.2499) == 0)
    #expect(Sampling.pick(probabilities, uniform: 0.25) == 2)
    #expect(Sampling.pick(probabilities, uniform: 0.7499) == 2)
    #expect(Sampling.pick(probabilities, uniform: 0.75) == 3)
    #expect(Sampling.pick([0.5, 0.5, 0], uniform: 0.9999999999999999) == 1)
  }

  @Test("the seeded generator repeats its sequence for the same seed")
  func seededGenerator() {
    var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
    let first = (0..<5).map { _ in a.next() }
    #expect(first == (0..<5).map { _ in b.next() })
    #expect(first != (0..<5).map { _ in c.next() })
    for _ in 0..<1000 {
      let unit = a.nextUnit()
      #expect(unit >= 0 && unit < 1)
    }
  }

  @Test("stableHash is FNV-1a")
  func fnv() {
    #expect(stableHash("") == 0xcbf2_9ce4_8422_2325)
    #expect(stableHash("a") == 0xaf63_dc4c_8601_ec8c)
  }
}
