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
      if temperature < 0 { throw ValidationError("--temperature must be 0 or more") }
      if let topK, topK < 0 { throw ValidationError("--top-k must be 0 or more") }
      if let topP, !(0...1).contains(topP) { throw ValidationError("--top-p must be between 0 and 1") }
      if parsedLogits == nil { throw ValidationError("--logits must be numbers separated by commas, e.g. 0.2,0.3,0.1,0.4") }
    }

    var parsedLogits: [Double]? {
      let values = logits.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
      return values.isEmpty || values.contains(nil) ? nil : values.map { $0! }
    }

    func run() throws {
      let values = parsedLogits!
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
