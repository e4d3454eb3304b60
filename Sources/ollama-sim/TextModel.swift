import CaravanCore

/// The simulator's "model": deterministic text from the prompt, the options and the seed.
///
/// Each position has fixed pseudo-random logits over a small vocabulary (derived from the model
/// and prompt), sampled with Ollama's temperature, top_k and top_p. Temperature 0 is greedy and
/// so gives the same answer on every repeat; higher temperatures give more distinct answers.
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
  static func generate(model: String, prompt: String, options: Options, randomSeed: UInt64) -> Output {
    let temperature = options["temperature"]?.doubleValue ?? defaults.temperature
    let topK = options["top_k"]?.intValue ?? defaults.topK
    let topP = options["top_p"]?.doubleValue ?? defaults.topP
    let seed: UInt64
    if let given = options["seed"]?.intValue, given >= 0 { seed = UInt64(given) } else { seed = randomSeed }
    var generator = SeededGenerator(seed: seed ^ stableHash(model + "\u{0}" + prompt))
    let contextHash = stableHash(model + "\u{1}" + prompt)
    let natural = 8 + Int(contextHash % 17)
    let limit = options["num_predict"]?.intValue ?? -1
    let length = limit > 0 ? min(limit, natural) : natural
    var tokens: [String] = []
    for position in 0..<length {
      let logits = vocabulary.indices.map { index -> Double in
        let h = stableHash("\(contextHash)/\(position)/\(index)")
        return Double(h % 10_000) / 2_500  // 0 ..< 4
      }
      var probabilities = Sampling.softmax(logits, temperature: temperature)
      probabilities = Sampling.topK(probabilities, k: topK)
      probabilities = Sampling.topP(probabilities, p: topP)
      tokens.append(vocabulary[Sampling.pick(probabilities, uniform: generator.nextUnit())])
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
}
