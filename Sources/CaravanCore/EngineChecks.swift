/// What a spec asks of its engine that the engine cannot do, found before anything is written.
///
/// An OpenAI-compatible server cannot create models, and it honours only the sampling options
/// `OpenAIRequest.fields` maps (it ignores the others silently). Ollama's rules are checked where
/// options are read (`OllamaOptions`).
public enum EngineChecks {
  public static func problems(spec: JobSpec, prompts: [Prompt], specFile: String, promptsFile: String) -> [Problem] {
    guard spec.engine.kind == .openai else { return [] }
    var problems: [Problem] = []
    func add(_ keyPath: String, _ message: String) {
      problems.append(Problem(file: specFile, line: nil, keyPath: keyPath, message: message))
    }
    if (spec.engine.command ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
      add("engine.command", "engine.kind openai needs the server's command line, bound to 127.0.0.1:$PORT and serving the spec's model as $MODEL, e.g. `llama-server -m model.gguf --host 127.0.0.1 --port $PORT -np $PARALLEL --alias $MODEL` (see README, Engines)")
    }
    for (index, variant) in spec.variants.enumerated() {
      let path = "variants[\(index)]"
      for name in variant.options.keys.sorted() {
        if let refusal = OpenAIRequest.refusal(option: name) { add("\(path).options.\(name)", refusal) }
      }
      guard let text = variant.modelfile, case .success(let modelfile) = Modelfile.parse(text) else { continue }
      if modelfile.template != nil {
        add("\(path).modelfile", "TEMPLATE cannot be used with engine.kind openai: the OpenAI API cannot create models, and the server applies its own chat template; remove the line")
      }
      if let from = modelfile.from, from != spec.model {
        add("\(path).modelfile", "FROM \(from) is not the model the server serves ('\(spec.model)', the spec's model): an OpenAI-compatible server serves one model; write FROM \(spec.model)")
      }
      for name in modelfile.parameters.keys.sorted() {
        if let refusal = OpenAIRequest.refusal(option: name) { add("\(path).modelfile", "PARAMETER \(name): " + refusal) }
      }
    }
    for axis in spec.sweep {
      if let refusal = OpenAIRequest.refusal(option: axis.option) { add("sweep.\(axis.option)", refusal) }
    }
    for prompt in prompts {
      for name in prompt.options.keys.sorted() {
        if let refusal = OpenAIRequest.refusal(option: name) {
          problems.append(Problem(file: promptsFile, line: prompt.line, keyPath: "options.\(name)", message: refusal))
        }
      }
    }
    return problems
  }
}
