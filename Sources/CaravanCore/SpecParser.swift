import Yams

/// Reads a job spec (YAML, or JSON, which YAML also reads) and checks it, collecting every problem.
public enum SpecParser {
  /// Parses and validates `text`; `file` is the name used in messages.
  public static func parse(_ text: String, file: String) throws(InputError) -> JobSpec {
    let root: Node?
    do {
      root = try Yams.compose(yaml: text)
    } catch YamlError.duplicatedKeysInMapping(let duplicates, let context) {
      throw InputError(duplicates.map { key in
        let first = context.mark.line
        let second = secondOccurrence(of: key, in: text, after: first, column: context.mark.column) ?? first
        return Problem(file: file, line: second, keyPath: key, message: "key '\(key)' appears more than once (first on line \(first)); keep one")
      })
    } catch {
      throw InputError([Problem(file: file, line: yamlErrorLine(error), message: "not valid YAML or JSON: \(yamlErrorSummary(error))")])
    }
    guard let root else {
      throw InputError([Problem(file: file, line: 1, message: "the spec is empty; it needs at least name, model and prompts")])
    }
    var reader = NodeReader(file: file)
    let spec = reader.section(root, "", JobSpec.self)
    if let spec {
      // Semantic checks run even after reading problems, so one run shows everything; a key
      // that already has a problem (it kept its default) is not reported twice.
      let reported = Set(reader.problems.map(\.keyPath))
      reader.problems += SpecValidator.problems(in: spec, locations: reader.locations, file: file).filter { !reported.contains($0.keyPath) }
    }
    guard reader.problems.isEmpty, let spec else { throw InputError(reader.problems) }
    return spec
  }

  /// The line of the second `key:` at the same column after line `first` (1-based).
  private static func secondOccurrence(of key: String, in text: String, after first: Int, column: Int) -> Int? {
    let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    for index in first..<lines.count {
      let line = lines[index]
      let indent = line.prefix { $0 == " " }.count
      if indent == column - 1, line.dropFirst(indent).hasPrefix(key + ":") { return index + 1 }
    }
    return nil
  }

  static func yamlErrorLine(_ error: any Error) -> Int? {
    if case YamlError.scanner(_, _, let mark, _) = error { return mark.line }
    if case YamlError.parser(_, _, let mark, _) = error { return mark.line }
    if case YamlError.composer(_, _, let mark, _) = error { return mark.line }
    return nil
  }

  static func yamlErrorSummary(_ error: any Error) -> String {
    if case YamlError.scanner(_, let problem, _, _) = error { return problem }
    if case YamlError.parser(_, let problem, _, _) = error { return problem }
    if case YamlError.composer(_, let problem, _, _) = error { return problem }
    return "\(error)"
  }
}

/// Walks the YAML tree, converting nodes to the spec's types and recording where each key was.
struct NodeReader {
  let file: String
  var problems: [Problem] = []
  /// Line of every key path read, for the semantic checks that run afterwards.
  var locations: [String: Int] = [:]

  init(file: String) { self.file = file }

  /// Records a problem at `node`'s line, or, without a node, at the line of `path` or of the
  /// closest enclosing key that was written.
  mutating func report(_ node: Node?, _ path: String, _ message: String) {
    problems.append(Problem(file: file, line: node?.mark?.line ?? SpecValidator.nearestLocation(path, locations), keyPath: path, message: message))
  }

  /// Reads a section through its table: each key written is read into its property, an unknown
  /// key is reported with the closest known one, a required key left out is reported, and every
  /// other key keeps its default. Nil when the node is not a mapping.
  mutating func section<Section: SpecSection>(_ node: Node, _ path: String, _: Section.Type) -> Section? {
    guard let entries = entries(node, path, allowed: Section.fields.map(\.key)) else { return nil }
    var section = Section()
    var written: Set<String> = []
    for (key, value) in entries {
      guard let field = Section.fields.first(where: { $0.key == key }) else { continue }
      let keyPath = path.isEmpty ? key : "\(path).\(key)"
      written.insert(key)
      // A key set to null (`~`, `null`, or nothing after the colon) counts as not written and
      // keeps its default: in YAML that is how one says "no value", and the resolved spec leaves
      // unset keys out the same way. A required key has no default, so there it is a problem.
      if isNull(value) {
        if let requirement = field.requirement { report(nil, keyPath, "is empty; \(requirement)") }
        continue
      }
      field.read(&self, value, keyPath, &section)
    }
    for field in Section.fields where !written.contains(field.key) {
      guard let requirement = field.requirement else { continue }
      let keyPath = path.isEmpty ? field.key : "\(path).\(field.key)"
      report(nil, keyPath, "required key '\(field.key)' is missing; \(requirement)")
    }
    return section
  }

  /// The mapping's entries in order, after reporting keys not in `allowed` (with a suggestion).
  mutating func entries(_ node: Node, _ path: String, allowed: [String]) -> [(key: String, node: Node)]? {
    guard let mapping = node.mapping else {
      report(node, path, "expected a mapping of keys (\(allowed.joined(separator: ", "))), found \(kindName(node))")
      return nil
    }
    var seen: Set<String> = []
    var result: [(key: String, node: Node)] = []
    for (keyNode, value) in mapping {
      let key = keyNode.string ?? ""
      let keyPath = path.isEmpty ? key : "\(path).\(key)"
      if !seen.insert(key).inserted {
        report(keyNode, keyPath, "key '\(key)' appears twice; keep one")
        continue
      }
      guard allowed.contains(key) else {
        var message = "unknown key '\(key)'"
        if let guess = closestMatch(to: key, among: allowed) { message += "; did you mean '\(guess)'?" }
        else { message += "; known keys here: \(allowed.joined(separator: ", "))" }
        report(keyNode, keyPath, message)
        continue
      }
      locations[keyPath] = keyNode.mark?.line
      result.append((key, value))
    }
    return result
  }

  mutating func string(_ node: Node, _ path: String) -> String? {
    guard let scalar = node.scalar, !isNull(node) else {
      report(node, path, "expected text, found \(kindName(node))")
      return nil
    }
    // A block scalar's text (`|`, `>`) starts on the line after its key; problems inside the
    // text (a Modelfile's) count lines from there.
    if scalar.style == .literal || scalar.style == .folded, let line = node.mark?.line {
      locations["\(path).body"] = line + 1
    }
    return scalar.string
  }

  mutating func int(_ node: Node, _ path: String) -> Int? {
    if case .int(let value) = jsonValue(node) { return value }
    report(node, path, "expected a whole number, found \(describe(node))")
    return nil
  }

  mutating func bool(_ node: Node, _ path: String) -> Bool? {
    if case .bool(let value) = jsonValue(node) { return value }
    report(node, path, "expected true or false, found \(describe(node))")
    return nil
  }

  mutating func strings(_ node: Node, _ path: String) -> [String]? {
    if node.scalar != nil { return string(node, path).map { [$0] } }
    guard let sequence = node.sequence else {
      report(node, path, "expected a list of text lines, found \(kindName(node))")
      return nil
    }
    return sequence.enumerated().compactMap { index, item in
      locations["\(path)[\(index)]"] = item.mark?.line
      return string(item, "\(path)[\(index)]")
    }
  }

  mutating func stringMap(_ node: Node, _ path: String) -> [String: String]? {
    guard let mapping = node.mapping else {
      report(node, path, "expected a mapping of NAME: value, found \(kindName(node))")
      return nil
    }
    var result: [String: String] = [:]
    for (key, value) in mapping {
      locations["\(path).\(key.string ?? "?")"] = key.mark?.line
      guard let name = key.string, let text = string(value, "\(path).\(key.string ?? "?")") else { continue }
      result[name] = text
    }
    return result
  }

  mutating func choice<T: RawRepresentable & CaseIterable>(_ node: Node, _ path: String, _: T.Type) -> T?
  where T.RawValue == String {
    guard let text = string(node, path) else { return nil }
    if let value = T(rawValue: text) { return value }
    let names = T.allCases.map(\.rawValue)
    report(node, path, "'\(text)' is not one of: \(names.joined(separator: ", "))")
    return nil
  }

  /// A structured-output format: `json`, or a JSON schema checked keyword by keyword.
  mutating func format(_ node: Node, _ path: String) -> JSONValue? {
    let value = jsonValue(node)
    switch StructuredFormat.problems(value) {
    case let found where found.isEmpty: return value
    case let found:
      for (subpath, message) in found {
        if subpath.isEmpty { report(node, path, message); continue }
        problems.append(Problem(file: file, line: Self.line(of: subpath, in: node), keyPath: "\(path).\(subpath)", message: message))
      }
      return nil
    }
  }

  /// The line of a key below `node` (`properties.label.type`), else of the deepest one written.
  static func line(of subpath: String, in node: Node) -> Int? {
    var current = node
    var line = node.mark?.line
    for key in subpath.split(separator: ".") {
      guard let entry = current.mapping?.first(where: { $0.key.string == String(key) }) else { break }
      line = entry.key.mark?.line ?? line
      current = entry.value
    }
    return line
  }

  /// Ollama options: names and values are checked here, with the line of each key.
  mutating func options(_ node: Node, _ path: String) -> Options? {
    guard let mapping = node.mapping else {
      report(node, path, "expected a mapping of Ollama options (temperature: 0.7), found \(kindName(node))")
      return nil
    }
    var result: Options = [:]
    for (keyNode, valueNode) in mapping {
      let name = keyNode.string ?? ""
      let value = jsonValue(valueNode)
      let problems = OllamaOptions.problems(name: name, value: value)
      for message in problems { report(keyNode, "\(path).\(name)", message) }
      if problems.isEmpty { result[name] = OllamaOptions.normalized(name: name, value: value) }
    }
    return result
  }

  /// `variants:`, a list of sections.
  mutating func variants(_ node: Node, _ path: String) -> [VariantSpec]? {
    guard let sequence = node.sequence else {
      report(node, path, "expected a list of {name, options} or {name, modelfile}, found \(kindName(node))")
      return nil
    }
    var result: [VariantSpec] = []
    for (index, item) in sequence.enumerated() {
      let itemPath = "\(path)[\(index)]"
      locations[itemPath] = item.mark?.line
      result.append(section(item, itemPath, VariantSpec.self) ?? VariantSpec())
    }
    return result
  }

  /// `sweep:`, a mapping from option name to its values, in the order written.
  mutating func sweep(_ node: Node, _ path: String) -> [SweepAxis]? {
    guard let mapping = node.mapping else {
      report(node, path, "expected a mapping from option name to a list of values, found \(kindName(node))")
      return nil
    }
    var axes: [SweepAxis] = []
    for (keyNode, valueNode) in mapping {
      let option = keyNode.string ?? ""
      let axisPath = "\(path).\(option)"
      locations[axisPath] = keyNode.mark?.line
      let items = valueNode.sequence.map(Array.init) ?? [valueNode]
      var values: [JSONValue] = []
      for (index, item) in items.enumerated() {
        let value = jsonValue(item)
        let found = OllamaOptions.problems(name: option, value: value)
        for message in found { report(items.count > 1 ? item : keyNode, items.count > 1 ? "\(axisPath)[\(index)]" : axisPath, message) }
        if !found.isEmpty { break }
        values.append(value)
      }
      if items.isEmpty { report(keyNode, axisPath, "give at least one value") }
      axes.append(SweepAxis(option: option, values: values))
    }
    return axes
  }

  private func kindName(_ node: Node) -> String {
    switch node {
    case .scalar where isNull(node): return "no value (null)"
    case .scalar: return "'\(node.string ?? "")'"
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .alias: return "an alias"
    }
  }

  private func describe(_ node: Node) -> String { kindName(node) }
}

/// Converts a YAML node to JSON, typing plain scalars (`3`, `0.1`, `true`) and keeping quoted
/// or `!!str`-tagged ones as text.
func jsonValue(_ node: Node) -> JSONValue {
  switch node {
  case .scalar(let scalar):
    let text = scalar.string
    guard isTyped(scalar) else { return .string(text) }
    if isNull(node) { return .null }
    if text == "true" || text == "True" || text == "TRUE" { return .bool(true) }
    if text == "false" || text == "False" || text == "FALSE" { return .bool(false) }
    if let value = Int(text) { return .int(value) }
    if let value = Double(text), text.allSatisfy({ "0123456789+-.eE_".contains($0) }) {
      return .double(value)
    }
    return .string(text)
  case .sequence(let sequence): return .array(sequence.map(jsonValue))
  case .mapping(let mapping):
    var object: [String: JSONValue] = [:]
    for (key, value) in mapping { object[key.string ?? ""] = jsonValue(value) }
    return .object(object)
  case .alias: return .null
  }
}

/// YAML's null: a plain `~`, `null`, `Null`, `NULL`, or no value at all (`key:`). Quoted, or
/// tagged `!!str`, each is text.
func isNull(_ node: Node) -> Bool {
  guard let scalar = node.scalar, isTyped(scalar) else { return false }
  return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
}

/// Whether a scalar's type comes from its text: a plain scalar without an explicit `!!str`.
/// Yams resolves the tag when the node is built, so an explicit `!!str` shows as a `str` tag on
/// text that the default resolver would have typed otherwise (`!!str 3`, `!!str ~`).
private func isTyped(_ scalar: Node.Scalar) -> Bool {
  guard scalar.style == .plain || scalar.style == .any else { return false }
  return scalar.tag.description != Tag.Name.str.rawValue || Node.Scalar(scalar.string).tag.description == Tag.Name.str.rawValue
}
