import Yams

/// Lines of key paths (`variants[1].name`, `sweep.temperature[0]`) in a job spec's text, for
/// checks that run on the parsed `JobSpec` and still want to say where the user wrote a thing.
///
/// The text is composed again only when a line is asked for, that is, only when there is a
/// problem to report; `SpecText.problems` has already bounded its size, nesting and aliases.
public struct SpecLocations {
  private let root: Node?

  public init(text: String) {
    root = try? Yams.compose(yaml: text)
  }

  /// `problems` with the line of their key path filled in where a check on the parsed spec left
  /// it out (`EngineChecks`, `EmbedChecks`): the text is composed only when one lacks a line.
  public static func locating(_ problems: [Problem], in file: String, text: String) -> [Problem] {
    guard problems.contains(where: { $0.file == file && $0.line == nil && !$0.keyPath.isEmpty }) else { return problems }
    let locations = SpecLocations(text: text)
    return problems.map { problem in
      guard problem.file == file, problem.line == nil, !problem.keyPath.isEmpty else { return problem }
      var located = problem
      located.line = locations.line(problem.keyPath)
      return located
    }
  }

  /// The 1-based line of `keyPath`'s key (or list item), else of the nearest enclosing key that
  /// is written; nil when not even the first key is.
  public func line(_ keyPath: String) -> Int? {
    guard var node = root else { return nil }
    var line: Int?
    for step in Self.steps(keyPath) {
      switch step {
      case .key(let key):
        guard let entry = node.mapping?.first(where: { $0.key.string == key }) else { return line }
        line = entry.key.mark?.line ?? line
        node = entry.value
      case .index(let index):
        guard let items = node.sequence, index >= 0, index < items.count else { return line }
        node = items[index]
        line = node.mark?.line ?? line
      }
    }
    return line
  }

  /// The line in the spec of line `number` (1-based) of a variant's Modelfile, for a Modelfile
  /// written as a block (`modelfile: |`, whose text starts on the next line) or inline.
  public func modelfileLine(variant index: Int, line number: Int) -> Int? {
    guard let variant = root?.mapping?.first(where: { $0.key.string == "variants" })?.value.sequence,
      index >= 0, index < variant.count,
      let value = variant[index].mapping?.first(where: { $0.key.string == "modelfile" })?.value,
      let start = value.mark?.line
    else { return line("variants[\(index)].modelfile") }
    let block = value.scalar?.style == .literal || value.scalar?.style == .folded
    return start + (block ? 1 : 0) + max(0, number - 1)
  }

  enum Step: Equatable {
    case key(String)
    case index(Int)
  }

  /// `variants[1].options.top_k` -> key variants, index 1, key options, key top_k.
  static func steps(_ keyPath: String) -> [Step] {
    var steps: [Step] = []
    for part in keyPath.split(separator: ".", omittingEmptySubsequences: false) {
      var rest = Substring(part)
      if let open = rest.firstIndex(of: "[") {
        if open > rest.startIndex { steps.append(.key(String(rest[..<open]))) }
        rest = rest[open...]
        while rest.hasPrefix("["), let close = rest.firstIndex(of: "]"), let index = Int(rest[rest.index(after: rest.startIndex)..<close]) {
          steps.append(.index(index))
          rest = rest[rest.index(after: close)...]
        }
      } else {
        steps.append(.key(String(rest)))
      }
    }
    return steps
  }
}
