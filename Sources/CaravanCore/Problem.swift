/// One thing wrong with the user's input, located as precisely as the input allows.
public struct Problem: Sendable, Hashable, CustomStringConvertible {
  /// The file the problem is in, as the user named it.
  public var file: String
  /// 1-based line in that file, when known.
  public var line: Int?
  /// Where in the document: `variants[1].options.temprature`; empty for whole-line problems.
  public var keyPath: String
  /// What is wrong and how to fix it.
  public var message: String

  public init(file: String, line: Int?, keyPath: String = "", message: String) {
    self.file = file
    self.line = line
    self.keyPath = keyPath
    self.message = message
  }

  public var description: String {
    var location = file
    if let line { location += ":\(line)" }
    return keyPath.isEmpty ? "\(location): \(message)" : "\(location): \(keyPath): \(message)"
  }
}

/// Every problem found in one pass over the input, reported together.
public struct InputError: Error, Sendable, CustomStringConvertible {
  public var problems: [Problem]

  public init(_ problems: [Problem]) { self.problems = problems }

  public var description: String {
    let count = problems.count == 1 ? "1 problem" : "\(problems.count) problems"
    return "\(count) found; nothing was submitted:\n" + problems.map { "  " + $0.description }.joined(separator: "\n")
  }
}
extension Problem: Error {}
