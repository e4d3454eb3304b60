/// What `task: embed` cannot carry, found before anything is written: an embedding is of text,
/// so a conversation, a system prompt, a Modelfile variant or a structured-output format has
/// no meaning there; and OpenAI-compatible servers take no options for embeddings.
public enum EmbedChecks {
  public static func problems(spec: JobSpec, prompts: [Prompt], specFile: String, promptsFile: String) -> [Problem] {
    guard spec.task == .embed else { return [] }
    var problems: [Problem] = []
    func add(_ keyPath: String, _ message: String) { problems.append(Problem(file: specFile, line: nil, keyPath: keyPath, message: message)) }
    if spec.format != nil { add("format", "task embed returns vectors, not answers; remove format") }
    if !(1...4096).contains(spec.engine.embedBatch) {
      add("engine.embed_batch", "is \(spec.engine.embedBatch); give the inputs per embedding request, 1 to 4096")
    }
    for (index, variant) in spec.variants.enumerated() {
      if variant.modelfile != nil { add("variants[\(index)].modelfile", "task embed sends text to the spec's model; a Modelfile variant has nothing to change there: use options, or remove the variant") }
      if variant.format != nil { add("variants[\(index)].format", "task embed returns vectors, not answers; remove format") }
      if spec.engine.kind == .openai, !variant.options.isEmpty {
        add("variants[\(index)].options", "an OpenAI-compatible server takes no options for embeddings; remove them")
      }
    }
    if spec.engine.kind == .openai, let axis = spec.sweep.first {
      add("sweep.\(axis.option)", "an OpenAI-compatible server takes no options for embeddings; remove the sweep")
    }
    for prompt in prompts {
      func line(_ message: String) { problems.append(Problem(file: promptsFile, line: prompt.line, message: message)) }
      guard case .prompt = prompt.input else {
        line("task embed embeds text: give \"prompt\", not \"messages\" or \"system\"")
        continue
      }
      if prompt.format != nil { line("task embed returns vectors, not answers; remove \"format\"") }
      if spec.engine.kind == .openai, !prompt.options.isEmpty { line("an OpenAI-compatible server takes no options for embeddings; remove \"options\"") }
    }
    return problems
  }
}
