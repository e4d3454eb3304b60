import ArgumentParser
import CaravanCore
import Foundation

extension Caravan {
  /// `caravan sampling`: the tutorial's softmax / top-k / top-p arithmetic as a tool.
  struct SamplingMath: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "sampling",
      abstract: "Show how temperature, top-k and top-p reshape a next-token distribution.",
      discussion: "Example: caravan sampling --logits 0.2,0.3,0.1,0.4 --temperature 0.1"
    )

    @Option(help: "Comma-separated logits.")
    var logits: String

    @Option(help: "Temperature (0 = greedy).")
    var temperature: Double = 1.0

    @Option(help: "Keep the k most likely tokens (0 keeps all).")
    var topK: Int?

    @Option(help: "Keep the most likely tokens whose mass reaches p.")
    var topP: Double?

    func validate() throws {
      guard temperature.isFinite, temperature >= 0 else {
        throw ValidationError("--temperature must be a finite number, 0 or more (0 = greedy); got \(temperature)")
      }
      if temperature > 0, temperature < Double.leastNormalMagnitude {
        throw ValidationError("--temperature \(temperature) is too small to divide by (below \(Double.leastNormalMagnitude)); use 0 for greedy sampling")
      }
      if let topK, topK < 0 { throw ValidationError("--top-k must be 0 or more; got \(topK)") }
      if let topP, !(0...1).contains(topP) { throw ValidationError("--top-p must be between 0 and 1; got \(topP)") }
      _ = try Self.parse(logits: logits)
    }

    /// The logits, or a ValidationError naming the element that is empty, not a number, or not finite.
    static func parse(logits text: String) throws -> [Double] {
      let example = "give numbers separated by commas, e.g. --logits 0.2,0.3,0.1,0.4"
      let elements = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
      var values: [Double] = []
      for (index, element) in elements.enumerated() {
        let position = "--logits element \(index + 1) of \(elements.count)"
        guard !element.isEmpty else { throw ValidationError("\(position) is empty ('\(text)'); \(example)") }
        guard let value = Double(element) else { throw ValidationError("\(position) ('\(element)') is not a number; \(example)") }
        guard value.isFinite else { throw ValidationError("\(position) is \(element); logits must be finite numbers") }
        values.append(value)
      }
      return values
    }

    func run() throws {
      let values = try Self.parse(logits: logits)
      var probabilities = Sampling.softmax(values, temperature: temperature)
      print("softmax(logits / \(temperature)): \(format(probabilities))")
      if let topK {
        probabilities = Sampling.topK(probabilities, k: topK)
        print("after top_k=\(topK):          \(format(probabilities))")
      }
      if let topP {
        probabilities = Sampling.topP(probabilities, p: topP)
        print("after top_p=\(topP):        \(format(probabilities))")
      }
    }

    /// numpy's style, as the tutorial printed it: `[0.08714432 0.23688282 0.0320586  0.64391426]`.
    func format(_ values: [Double]) -> String {
      "[" + values.map { value -> String in
        var text = String(format: "%.8f", value)
        while text.hasSuffix("0") && !text.hasSuffix(".0") { text.removeLast() }
        return text
      }.joined(separator: " ") + "]"
    }
  }
}
