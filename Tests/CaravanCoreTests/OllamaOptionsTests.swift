@testable import CaravanCore
import Testing

/// The option checks that stop a typo or a removed option from being silently ignored by Ollama.
@Suite("Ollama options")
struct OllamaOptionsTests {
  @Test("every option Ollama documents today is known")
  func knownOptions() {
    for name in ["temperature", "top_k", "top_p", "min_p", "typical_p", "seed", "num_predict", "repeat_penalty", "repeat_last_n",
                 "presence_penalty", "frequency_penalty", "stop", "num_keep", "num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread"] {
      #expect(OllamaOptions.known[name] != nil, "\(name) should be known")
    }
  }

  @Test("options removed in 2025 are rejected as removed", arguments: ["mirostat", "mirostat_eta", "mirostat_tau", "tfs_z", "numa", "penalize_newline"])
  func removed(name: String) {
    let problems = OllamaOptions.problems(name: name, value: .int(1))
    #expect(problems.count == 1)
    #expect(problems.first?.contains("removed") == true)
  }

  @Test("valid values pass", arguments: [
    ("temperature", JSONValue.double(0.8)), ("temperature", .int(2)), ("top_k", .int(40)), ("top_p", .double(0.9)),
    ("seed", .int(-1)), ("num_predict", .int(-1)), ("stop", .string("\n")), ("stop", .array([.string("a")])),
    ("use_mmap", .bool(true)), ("top_k", .double(3.0)), ("presence_penalty", .double(-1.5)),
  ])
  func validValues(name: String, value: JSONValue) {
    #expect(OllamaOptions.problems(name: name, value: value).isEmpty)
  }

  @Test("invalid values are rejected", arguments: [
    ("temperature", JSONValue.double(-0.5)), ("top_k", .int(-1)), ("top_p", .double(1.5)), ("top_k", .double(2.5)),
    ("temperature", .string("hot")), ("stop", .int(3)), ("stop", .array([.int(1)])), ("use_mmap", .string("yes")),
    ("num_ctx", .int(0)), ("seed", .double(0.5)), ("min_p", .double(-0.1)),
  ])
  func invalidValues(name: String, value: JSONValue) {
    #expect(OllamaOptions.problems(name: name, value: value).count == 1)
  }

  @Test("values are normalised to the JSON types Ollama expects")
  func normalisation() {
    #expect(OllamaOptions.normalized(name: "top_k", value: .double(3.0)) == .int(3))
    #expect(OllamaOptions.normalized(name: "stop", value: .string("END")) == .array([.string("END")]))
    #expect(OllamaOptions.normalized(name: "temperature", value: .double(0.7)) == .double(0.7))
  }

  @Test("misspellings get a suggestion", arguments: [("temprature", "temperature"), ("topk", "top_k"), ("num_predcit", "num_predict"), ("sede", "seed")])
  func suggestion(typo: String, meant: String) {
    #expect(OllamaOptions.problems(name: typo, value: .int(1)).first?.contains("did you mean '\(meant)'?") == true)
  }

  @Test("a name far from every option gets no suggestion")
  func noSuggestion() {
    let message = OllamaOptions.problems(name: "context_window_size", value: .int(1)).first
    #expect(message?.contains("unknown Ollama option") == true)
    #expect(message?.contains("did you mean") == false)
  }
}
