/// An Ollama model reference (`gemma:7b`, `library/gemma`, `user/model:tag`, `host/ns/model:tag`)
/// and where it lives in a model store.
///
/// Names are checked by Ollama's own rules (ollama/ollama `types/model/name.go`, `ParseName` and
/// `isValidPart`), so a name Ollama would refuse is refused here first, with the part and the
/// rule it breaks:
///
///     [host/][namespace/]model[:tag]        (an `http://` or `https://` before the host is dropped)
///     host       letters, digits, '_', then also '-', '.', ':'     1 to 350 bytes
///     namespace  letters, digits, '_', then also '-'               1 to 80 bytes
///     model      letters, digits, '_', then also '-', '.'          1 to 80 bytes
///     tag        letters, digits, '_', then also '-', '.'          1 to 80 bytes
///
/// No part can contain '/' or start with '.' or '-', so `manifestPath` never leaves the store.
/// (Ollama's `host/namespace/kind/model` form, for skills and agents, names no model and is refused.)
public struct ModelName: Sendable, Hashable, CustomStringConvertible {
  public private(set) var host: String
  public private(set) var namespace: String
  public private(set) var model: String
  public private(set) var tag: String

  public static let defaultHost = "registry.ollama.ai"
  public static let defaultNamespace = "library"
  public static let defaultTag = "latest"

  /// Parses `text` as Ollama does, filling in the default host, namespace and tag.
  public init(parsing text: String) throws(ModelNameError) {
    var rest = Substring(text)
    func fail(_ reason: String) -> ModelNameError { ModelNameError(name: text, reason: reason) }
    if text.isEmpty { throw fail("it is empty; give a model such as gemma:7b") }
    var tag: Substring?
    // '/' cannot appear in a tag, so a ':' after the last '/' starts the tag (one before it is a host's port).
    let lastSlash = rest.lastIndex(of: "/")
    if let colon = rest.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
      tag = rest[rest.index(after: colon)...]
      rest = rest[..<colon]
    }
    // model after the last '/', namespace after the one before it, and the host is what is left
    // (after any `scheme://`), as Ollama's ParseNameBare cuts them.
    var model = rest, namespace: Substring?, host: Substring?
    if let slash = rest.lastIndex(of: "/") {
      model = rest[rest.index(after: slash)...]
      let left = rest[..<slash]
      namespace = left
      if let second = left.lastIndex(of: "/") {
        namespace = left[left.index(after: second)...]
        var remainder = left[..<second]
        if let scheme = remainder.range(of: "://") { remainder = remainder[scheme.upperBound...] }
        host = remainder
      }
    }
    if let host, host.contains("/") {
      throw fail("it has more than three parts separated by '/'; Ollama takes host/namespace/model at most")
    }
    for (kind, part) in [(Part.host, host), (.namespace, namespace), (.model, model), (.tag, tag)] {
      guard let part else { continue }
      if let reason = kind.problem(String(part)) { throw fail(reason) }
    }
    self.host = host.map(String.init) ?? Self.defaultHost
    self.namespace = namespace.map(String.init) ?? Self.defaultNamespace
    self.model = String(model)
    self.tag = tag.map(String.init) ?? Self.defaultTag
  }

  /// Why Ollama would refuse `text` as a model name; nil when it is valid.
  public static func problem(_ text: String) -> String? {
    do {
      _ = try ModelName(parsing: text)
      return nil
    } catch {
      return error.reason
    }
  }

  /// A name read back from a store's folders (`manifests/<host>/<namespace>/<model>/<tag>`);
  /// nil when a folder name is not a valid part.
  public init?(host: String, namespace: String, model: String, tag: String) {
    for (kind, part) in [(Part.host, host), (.namespace, namespace), (.model, model), (.tag, tag)] where kind.problem(part) != nil {
      return nil
    }
    self.host = host
    self.namespace = namespace
    self.model = model
    self.tag = tag
  }

  /// The manifest's path inside the store: `manifests/registry.ollama.ai/library/gemma/7b`.
  public var manifestPath: String { "manifests/\(host)/\(namespace)/\(model)/\(tag)" }

  /// How `ollama list` shows it: `gemma:7b`, `user/model:tag`.
  public var description: String {
    let base = host == Self.defaultHost ? (namespace == Self.defaultNamespace ? model : "\(namespace)/\(model)") : "\(host)/\(namespace)/\(model)"
    return "\(base):\(tag)"
  }

  /// The four parts and the characters and lengths Ollama allows in each.
  enum Part: String {
    case host, namespace, model, tag

    var maxLength: Int { self == .host ? 350 : 80 }

    /// Characters allowed after the first (which must be a letter, a digit or '_').
    var laterPunctuation: String {
      switch self {
      case .host: return "_-.:"
      case .namespace: return "_-"
      case .model, .tag: return "_-."
      }
    }

    func problem(_ part: String) -> String? {
      let what = self == .model ? "the model name" : "the \(rawValue)"
      let bytes = Array(part.utf8)
      guard let first = bytes.first else {
        return "\(what) is empty (two separators in a row, or one at an end)"
      }
      if bytes.count > maxLength {
        return "\(what) is \(bytes.count) bytes long; Ollama allows at most \(maxLength)"
      }
      guard Self.isLetterDigitOrUnderscore(first) else {
        return "\(what) '\(part)' must start with a letter, a digit or '_' (not '\(Self.show(first, in: part))')"
      }
      let allowed = Set(laterPunctuation.utf8)
      if let bad = bytes.first(where: { !Self.isLetterDigitOrUnderscore($0) && !allowed.contains($0) }) {
        let list = laterPunctuation.map { "'\($0)'" }.joined(separator: ", ")
        return "\(what) '\(part)' contains '\(Self.show(bad, in: part))'; Ollama allows letters, digits and \(list) there"
      }
      return nil
    }

    static func isLetterDigitOrUnderscore(_ byte: UInt8) -> Bool {
      (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) || byte == 95
    }

    /// A byte as a person would recognise it: the character when it is printable ASCII.
    static func show(_ byte: UInt8, in part: String) -> String {
      if byte >= 0x21 && byte < 0x7F { return String(UnicodeScalar(byte)) }
      if byte == 0x20 { return " " }
      if byte < 0x80 { return "\\u{\(String(byte, radix: 16))}" }
      return part.unicodeScalars.first { !$0.isASCII }.map { String($0) } ?? "a non-ASCII character"
    }
  }
}

/// A model name Ollama would refuse, with the reason.
public struct ModelNameError: Error, Sendable, Equatable, CustomStringConvertible {
  public var name: String
  public var reason: String
  public var description: String { "'\(name)' is not a valid Ollama model name: \(reason)" }
}
