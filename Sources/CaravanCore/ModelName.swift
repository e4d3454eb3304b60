/// An Ollama model reference (`gemma:7b`, `library/gemma`, `user/model:tag`, `host/ns/model:tag`)
/// and where it lives in a model store.
public struct ModelName: Sendable, Hashable, CustomStringConvertible {
  public var host: String
  public var namespace: String
  public var model: String
  public var tag: String

  public init(_ text: String) {
    var rest = Substring(text)
    var tag = "latest"
    if let colon = rest.lastIndex(of: ":"), !rest[rest.index(after: colon)...].contains("/") {
      tag = String(rest[rest.index(after: colon)...])
      rest = rest[..<colon]
    }
    let parts = rest.split(separator: "/").map(String.init)
    switch parts.count {
    case 0, 1: (host, namespace, model) = ("registry.ollama.ai", "library", parts.first ?? "")
    case 2: (host, namespace, model) = ("registry.ollama.ai", parts[0], parts[1])
    default: (host, namespace, model) = (parts[0], parts[1...].dropLast().joined(separator: "/"), parts.last!)
    }
    self.tag = tag.isEmpty ? "latest" : tag
  }

  /// The manifest's path inside the store: `manifests/registry.ollama.ai/library/gemma/7b`.
  public var manifestPath: String { "manifests/\(host)/\(namespace)/\(model)/\(tag)" }

  /// How `ollama list` shows it: `gemma:7b`, `user/model:tag`.
  public var description: String {
    let base = host == "registry.ollama.ai" ? (namespace == "library" ? model : "\(namespace)/\(model)") : "\(host)/\(namespace)/\(model)"
    return "\(base):\(tag)"
  }
}
