import CaravanCore
import Foundation

/// The simulator's "model": deterministic text from the prompt, the options and the seed.
///
/// Like a real language model, its next-token distribution is peaked: the context (model, prompt
/// and the tokens so far) hashes to an order of the vocabulary and a steepness, and the logits
/// fall off as Zipf's law along that order, `-s * ln(rank)` with s in 1 ..< 3. At temperature 1
/// the top token holds 23 to 83 % of the mass; at 0.1 the runner-up has at most 2^-10 of the top
/// token's, so repeats are identical; at 0.5 they share their first words (sometimes all of
/// them). Sampled with Ollama's temperature, top_k and top_p; temperature 0 is greedy. Once a
/// repeat picks another token its context differs, so the rest of it diverges too.
struct TextModel: Sendable {
  static let vocabulary = [
    "the", "model", "answer", "is", "a", "large", "language", "city", "state", "island", "happy",
    "birthday", "friend", "wish", "you", "joy", "many", "more", "years", "bright", "warm", "day",
    "with", "and", "of", "learning", "text", "data", "networks", "predicts", "words", "in", "Asia",
    "small", "nation", "trade", "port", "modern", "cheers", "love", "always", "together", "today",
  ]

  /// Default options, as Ollama's documentation gives them.
  static let defaults: (temperature: Double, topK: Int, topP: Double) = (0.8, 40, 0.9)

  struct Output: Sendable {
    var tokens: [String]
    var doneReason: String
  }

  /// Generates the answer; `randomSeed` is used when the options carry no seed (or seed -1).
  /// `length` replaces the natural length (8 to 24 tokens, hashed from the prompt).
  static func generate(model: String, prompt: String, options: Options, randomSeed: UInt64, length fixedLength: Int? = nil) -> Output {
    let temperature = options["temperature"]?.doubleValue ?? defaults.temperature
    let topK = options["top_k"]?.intValue ?? defaults.topK
    let topP = options["top_p"]?.doubleValue ?? defaults.topP
    let seed: UInt64
    if let given = options["seed"]?.intValue, given >= 0 { seed = UInt64(given) } else { seed = randomSeed }
    var generator = SeededGenerator(seed: seed ^ stableHash(model + "\u{0}" + prompt))
    let contextHash = stableHash(model + "\u{1}" + prompt)
    let natural = fixedLength ?? 8 + Int(contextHash % 17)
    let limit = options["num_predict"]?.intValue ?? -1
    let length = limit > 0 ? min(limit, natural) : natural
    var tokens: [String] = []
    var context = contextHash
    for _ in 0..<length {
      var probabilities = Sampling.softmax(logits(context: context), temperature: temperature)
      probabilities = Sampling.topK(probabilities, k: topK)
      probabilities = Sampling.topP(probabilities, p: topP)
      let token = Sampling.pick(probabilities, uniform: generator.nextUnit())
      tokens.append(vocabulary[token])
      context = mix(context ^ (UInt64(token + 1) &* 0xD6E8_FEB8_6659_FD93))
    }
    var reason = limit > 0 && limit < natural ? "length" : "stop"
    let stops = (options["stop"]?.arrayValue ?? []).compactMap(\.stringValue)
    if !stops.isEmpty {
      var text = ""
      for (index, token) in tokens.enumerated() {
        text += (index == 0 ? "" : " ") + token
        if stops.contains(where: { text.contains($0) }) {
          tokens = Array(tokens[..<index])
          reason = "stop"
          break
        }
      }
    }
    return Output(tokens: tokens.enumerated().map { $0.offset == 0 ? $0.element : " " + $0.element }, doneReason: reason)
  }

  /// Steepness of the Zipf fall-off: how sure the model is at a position.
  /// (Steeper makes 0.5 repeat itself more, but lets 1.0 repeat itself now and then too.)
  static let steepness = 1.0..<3.0
  /// ln(rank) for ranks 1 ... vocabulary.count.
  static let logRanks = vocabulary.indices.map { Foundation.log(Double($0 + 1)) }

  /// Next-token logits for a context: the vocabulary in an order hashed from the context, the
  /// top one at 0 and each next rank at `-s * ln(rank)`.
  static func logits(context: UInt64) -> [Double] {
    let s = steepness.lowerBound + (steepness.upperBound - steepness.lowerBound) * unit(mix(context ^ 0x5151))
    let keys = vocabulary.indices.map { mix(context ^ (UInt64($0 + 1) &* 0x9E37_79B9_7F4A_7C15)) }
    var logits = [Double](repeating: 0, count: vocabulary.count)
    for (rank, index) in vocabulary.indices.sorted(by: { keys[$0] < keys[$1] }).enumerated() {
      logits[index] = -s * logRanks[rank]
    }
    return logits
  }

  /// SplitMix64's finaliser: a cheap, well-spread hash of a 64-bit value.
  static func mix(_ value: UInt64) -> UInt64 {
    var z = value &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A 64-bit hash as a number in [0, 1).
  static func unit(_ value: UInt64) -> Double { Double(value >> 11) / Double(1 << 53) }
}

extension TextModel {
  /// What Ollama's runner answers (HTTP 500) to a `format` that is neither "json" nor a schema
  /// object: the raw format quoted as Go's %q does.
  static func invalidFormatMessage(_ format: JSONValue) -> String {
    let raw = (try? String(decoding: JSONFormats.lineEncoder().encode(format), as: UTF8.self)) ?? ""
    let quoted = "\"" + raw.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    return "invalid format: \(quoted); expected \"json\" or a valid JSON Schema object"
  }

  /// An answer constrained to `format`, as Ollama's structured outputs give one: for "json" an
  /// object with an `answer`, for a schema an instance of it. Enum values are sampled like
  /// tokens (a peaked distribution hashed from the prompt, flattened by temperature), so a
  /// temperature sweep over a classifier moves its labels. Streamed in pieces of 4 characters.
  static func structured(model: String, prompt: String, options: Options, format: JSONValue, randomSeed: UInt64) -> Output {
    let temperature = options["temperature"]?.doubleValue ?? defaults.temperature
    let seed: UInt64
    if let given = options["seed"]?.intValue, given >= 0 { seed = UInt64(given) } else { seed = randomSeed }
    var generator = SeededGenerator(seed: seed ^ stableHash(model + "\u{0}" + prompt))
    let context = stableHash(model + "\u{2}" + prompt)
    let value: JSONValue
    if case .object = format {
      value = instance(of: format, context: context, temperature: temperature, generator: &generator)
    } else {
      value = .object(["answer": .string(words(3, context: context))])
    }
    let text = (try? String(decoding: JSONFormats.lineEncoder().encode(value), as: UTF8.self)) ?? "{}"
    let pieces = stride(from: 0, to: text.count, by: 4).map { start in
      String(text.dropFirst(start).prefix(4))
    }
    return Output(tokens: pieces, doneReason: "stop")
  }

  private static func instance(of schema: JSONValue, context: UInt64, temperature: Double, generator: inout SeededGenerator) -> JSONValue {
    let s = schema.objectValue ?? [:]
    if let constant = s["const"] { return constant }
    if let choices = s["enum"]?.arrayValue, !choices.isEmpty {
      let logits = Array(logits(context: context).prefix(choices.count))
      let probabilities = Sampling.softmax(logits + [Double](repeating: -1e9, count: max(0, choices.count - logits.count)), temperature: temperature)
      return choices[min(choices.count - 1, Sampling.pick(probabilities, uniform: generator.nextUnit()))]
    }
    let type = (s["type"]?.arrayValue?.first ?? s["type"])?.stringValue ?? "object"
    switch type {
    case "object":
      var object: [String: JSONValue] = [:]
      for (index, (name, sub)) in (s["properties"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }).enumerated() {
        object[name] = instance(of: sub, context: mix(context ^ UInt64(index + 1)), temperature: temperature, generator: &generator)
      }
      return .object(object)
    case "array":
      let low = s["minItems"]?.intValue ?? 1, high = max(low, s["maxItems"]?.intValue ?? 3)
      let count = low + Int(context % UInt64(high - low + 1))
      return .array((0..<count).map { instance(of: s["items"] ?? .object([:]), context: mix(context ^ UInt64($0 + 11)), temperature: temperature, generator: &generator) })
    case "integer", "number":
      let low = s["minimum"]?.doubleValue ?? 0, high = max(low, s["maximum"]?.doubleValue ?? 100)
      return .int(Int(low) + Int(context % UInt64(max(1, Int(high - low) + 1))))
    case "boolean": return .bool(context % 2 == 0)
    case "null": return .null
    default:
      let minimum = s["minLength"]?.intValue ?? 0, maximum = s["maxLength"]?.intValue ?? Int.max
      var text = words(2, context: context)
      while text.count < minimum { text += " " + words(1, context: mix(context ^ UInt64(text.count))) }
      return .string(String(text.prefix(maximum)))
    }
  }

  private static func words(_ count: Int, context: UInt64) -> String {
    (0..<count).map { vocabulary[Int(mix(context ^ UInt64($0 + 1)) % UInt64(vocabulary.count))] }.joined(separator: " ")
  }
}

extension TextModel {
  /// Dimensions of the simulator's embeddings.
  static let embeddingDimensions = 64

  /// A deterministic, L2-normalised float32 vector for `text` (as Ollama's `/api/embed` returns
  /// normalised vectors): each dimension hashed from the model, the text and its index.
  static func embedding(model: String, text: String) -> [Float] {
    let seed = stableHash(model + "\u{3}" + text)
    let raw = (0..<embeddingDimensions).map { Float(unit(mix(seed ^ UInt64($0 + 1) &* 0x9E37_79B9_7F4A_7C15)) * 2 - 1) }
    let norm = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return norm > 0 ? raw.map { $0 / norm } : raw
  }
}
