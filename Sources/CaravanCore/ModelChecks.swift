/// Model names in a spec, checked by Ollama's rules (`ModelName`) before anything is written:
/// the spec's `model`, each Modelfile's `FROM`, and the model each Modelfile variant creates.
///
/// Ollama refuses a bad name only once the job runs (and a name with `..` in it would be a path
/// out of the model store), so it is refused here. With engine.kind openai the model is only
/// the name the server answers to (`--alias $MODEL`), so it is held to a looser rule: text
/// that survives the server's command line.
public enum ModelChecks {
  public static func problems(spec: JobSpec, specFile: String, locations: () -> SpecLocations) -> [Problem] {
    // Where each problem is: a key's line, or a line inside a variant's Modelfile.
    var found: [(keyPath: String, modelfileLine: (variant: Int, line: Int)?, message: String)] = []
    let ollama = spec.engine.kind != .openai
    if let reason = ollama ? ModelName.problem(spec.model) : servedNameProblem(spec.model) {
      found.append(("model", nil, "'\(spec.model)' is not a valid \(ollama ? "Ollama model name" : "model name for the server"): \(reason)"))
    }
    for (index, variant) in spec.variants.enumerated() {
      guard let text = variant.modelfile, case .success(let modelfile) = Modelfile.parse(text), let from = modelfile.from else { continue }
      let keyPath = "variants[\(index)].modelfile"
      let line = (index, fromLine(text))
      if looksLikePath(from) {
        found.append((keyPath, line, "FROM \(from) is a file; Caravan sends FROM to Ollama as a model name and uploads no files: create that model with `ollama create NAME -f Modelfile` beforehand (or pull it) and write FROM NAME"))
      } else if ollama, let reason = ModelName.problem(from) {
        found.append((keyPath, line, "FROM '\(from)' is not a valid Ollama model name: \(reason)"))
      }
      guard ollama else { continue }
      let created = Planner.createdModelName(job: spec.name, variant: variant.name)
      if let reason = ModelName.problem(created) {
        found.append(("variants[\(index)].name", nil, "this Modelfile variant creates the Ollama model '\(created)', which Ollama would refuse (\(reason)); shorten the variant's name (or the job's)"))
      }
    }
    return found.map { keyPath, modelfileLine, message in
      let line = modelfileLine.map { locations().modelfileLine(variant: $0.variant, line: $0.line) } ?? locations().line(keyPath)
      return Problem(file: specFile, line: line, keyPath: keyPath, message: message)
    }
  }

  /// Why `name` cannot be an OpenAI-compatible server's model name, which the server's command
  /// line gets unquoted (`--alias $MODEL`); nil when it can.
  public static func servedNameProblem(_ name: String) -> String? {
    if name.isEmpty { return "it is empty" }
    if name.utf8.count > 350 { return "it is \(name.utf8.count) bytes long; the most is 350" }
    if name.hasPrefix("-") { return "it starts with '-', which the server's command line would read as an option" }
    if name.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) {
      return "it contains a space or a control character; the server's command line gets it as $MODEL, unquoted"
    }
    return nil
  }

  /// FROM names a file where Ollama's Modelfile would (`./model.gguf`, `/models/x`, `~/x`).
  static func looksLikePath(_ from: String) -> Bool {
    from.hasPrefix("/") || from.hasPrefix("./") || from.hasPrefix("../") || from.hasPrefix("~") || from == "." || from == ".."
      || from.lowercased().hasSuffix(".gguf") || from.lowercased().hasSuffix(".safetensors")
  }

  /// The 1-based line of the FROM instruction in Modelfile text (1 if none is found).
  static func fromLine(_ text: String) -> Int {
    let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
    return (lines.firstIndex { $0.drop(while: \.isWhitespace).uppercased().hasPrefix("FROM") } ?? 0) + 1
  }
}
