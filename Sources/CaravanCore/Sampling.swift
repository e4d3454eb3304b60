import Foundation

/// Temperature, top-k and top-p as samplers apply them, for the simulator and `caravan sampling`.
public enum Sampling {
  /// softmax(logits / temperature); temperature 0 puts all mass on the largest logit.
  ///
  /// The largest logit is subtracted before dividing by the temperature, so every exponent is 0
  /// or less: nothing overflows, however large the logits or however small the temperature (a
  /// temperature so small that the division underflows still gives the argmax). Logits must be
  /// finite; `caravan sampling` refuses others.
  public static func softmax(_ logits: [Double], temperature: Double) -> [Double] {
    guard let top = logits.max() else { return [] }
    if !(temperature > 0) {
      let best = logits.firstIndex(of: top) ?? 0
      return logits.indices.map { $0 == best ? 1 : 0 }
    }
    let exps = logits.map { Foundation.exp(($0 - top) / temperature) }
    let sum = exps.reduce(0, +)
    return exps.map { $0 / sum }
  }

  /// Keeps the k most likely entries (k <= 0 keeps all), then renormalises.
  public static func topK(_ probabilities: [Double], k: Int) -> [Double] {
    guard k > 0, k < probabilities.count else { return probabilities }
    let order = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
    let kept = Set(order.prefix(k))
    return renormalised(probabilities.indices.map { kept.contains($0) ? probabilities[$0] : 0 })
  }

  /// Keeps the smallest most-likely set whose mass reaches p (p >= 1 keeps all), then renormalises.
  public static func topP(_ probabilities: [Double], p: Double) -> [Double] {
    guard p < 1 else { return probabilities }
    let order = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
    var kept: Set<Int> = []
    var mass = 0.0
    for index in order {
      kept.insert(index)
      mass += probabilities[index]
      if mass >= p { break }
    }
    return renormalised(probabilities.indices.map { kept.contains($0) ? probabilities[$0] : 0 })
  }

  /// The index whose cumulative probability first exceeds `uniform` (a number in [0, 1)).
  public static func pick(_ probabilities: [Double], uniform: Double) -> Int {
    var cumulative = 0.0
    for (index, p) in probabilities.enumerated() {
      cumulative += p
      if uniform < cumulative { return index }
    }
    return probabilities.lastIndex { $0 > 0 } ?? 0
  }

  private static func renormalised(_ values: [Double]) -> [Double] {
    let sum = values.reduce(0, +)
    return sum > 0 ? values.map { $0 / sum } : values
  }
}

/// A small deterministic generator (SplitMix64), so simulated text depends only on its seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
  private var state: UInt64
  public init(seed: UInt64) { state = seed }
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// A uniform Double in [0, 1).
  public mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

/// FNV-1a over text: a stable hash (Swift's `hashValue` changes between processes).
public func stableHash(_ text: String) -> UInt64 {
  var hash: UInt64 = 0xcbf2_9ce4_8422_2325
  for byte in text.utf8 {
    hash ^= UInt64(byte)
    hash = hash &* 0x0000_0100_0000_01B3
  }
  return hash
}
