import CaravanCore
import Foundation

/// The models the simulator serves: base models (given, or found in / pulled into the store)
/// and models registered through `/api/create`.
actor ModelRegistry {
  struct Created: Sendable {
    var from: String
    var parameters: Options
    var system: String?
  }

  /// When true (no models named and no store), any model name is served.
  let servesAnyModel: Bool
  private var base: Set<String>
  private var created: [String: Created] = [:]
  private var loads: [String: LoadState] = [:]
  let store: String?

  init(models: [String], store: String?) {
    self.store = store
    var found = Set(models.map(ModelRegistry.normalize))
    if let store { found.formUnion(ModelRegistry.modelsInStore(store)) }
    base = found
    servesAnyModel = models.isEmpty && store == nil
  }

  /// `gemma` means `gemma:latest`, as in Ollama.
  static func normalize(_ name: String) -> String {
    name.contains(":") ? name : name + ":latest"
  }

  enum Resolution: Sendable {
    case base(String)
    case created(Created)
    case missing
  }

  func resolve(_ name: String) -> Resolution {
    let key = Self.normalize(name)
    if let model = created[key] { return .created(model) }
    if servesAnyModel || base.contains(key) { return .base(key) }
    return .missing
  }

  /// A model is loaded once per server process; requests that arrive while it loads wait for it.
  private enum LoadState {
    case loading([CheckedContinuation<Void, Never>])
    case loaded
  }

  /// Returns once the model is loaded. The first request for a model loads it (`delay`), and
  /// requests that arrive meanwhile wait for the same load, as Ollama's scheduler makes them.
  func ensureLoaded(_ name: String, delay: Duration) async {
    let key = Self.normalize(name)
    switch loads[key] {
    case .loaded?:
      return
    case .loading?:
      await withCheckedContinuation { continuation in
        if case .loading(let waiting)? = loads[key] { loads[key] = .loading(waiting + [continuation]) } else { continuation.resume() }
      }
    case nil:
      loads[key] = .loading([])
      // A request cancelled mid-load ends the wait early; the model then counts as loaded.
      try? await Task.sleep(for: delay)
      if case .loading(let waiting)? = loads[key] { waiting.forEach { $0.resume() } }
      loads[key] = .loaded
    }
  }

  func create(name: String, model: Created) {
    created[Self.normalize(name)] = model
  }

  func all() -> [String] {
    (base.union(created.keys)).sorted()
  }

  /// Records a pulled model, writing Ollama's store layout when a store is set: the manifest at
  /// the parsed name's path (every part valid, so it stays inside the store).
  func addPulled(_ name: String, parsed: ModelName, blob: Data) throws {
    let key = Self.normalize(name)
    base.insert(key)
    guard let store else { return }
    // 64 hex digits, as a real sha256 digest has (caravan models list checks the form).
    let digest = "sha256-" + ["", "#", "##", "###"].map { String(format: "%016llx", stableHash(key + $0)) }.joined()
    let blobs = URL(fileURLWithPath: store).appendingPathComponent("blobs")
    try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
    try blob.write(to: blobs.appendingPathComponent(digest))
    let manifest = URL(fileURLWithPath: store).appendingPathComponent(parsed.manifestPath)
    try FileManager.default.createDirectory(at: manifest.deletingLastPathComponent(), withIntermediateDirectories: true)
    let text = """
      {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"\(digest.replacingOccurrences(of: "-", with: ":"))","size":\(blob.count)}]}
      """
    try Data(text.utf8).write(to: manifest)
  }

  /// Models present in an Ollama store: manifests/registry.ollama.ai/library/NAME/TAG.
  static func modelsInStore(_ store: String) -> Set<String> {
    let library = URL(fileURLWithPath: store).appendingPathComponent("manifests/registry.ollama.ai/library")
    var found: Set<String> = []
    let fm = FileManager.default
    for name in (try? fm.contentsOfDirectory(atPath: library.path)) ?? [] {
      for tag in (try? fm.contentsOfDirectory(atPath: library.appendingPathComponent(name).path)) ?? [] {
        found.insert("\(name):\(tag)")
      }
    }
    return found
  }
}
