import CaravanStorage
import CaravanCore
import Foundation

/// An Ollama model store on disk (OLLAMA_MODELS): `manifests/<host>/<namespace>/<model>/<tag>`
/// plus `blobs/sha256-<digest>`. Read directly, so no server is needed to list or check it.
public struct ModelStore: Sendable {
  public var path: String

  public init(path: String) { self.path = path }

  /// One installed model.
  public struct Entry: Sendable, Equatable {
    public var name: String
    /// Sum of the manifest's layer sizes, in bytes.
    public var size: Int
    public var modified: Date?
    /// Layers the manifest names whose blob is missing (a broken or partial pull).
    public var missingBlobs: Int
  }

  public func contains(_ model: String) -> Bool {
    FileManager.default.fileExists(atPath: path + "/" + ModelName(model).manifestPath)
  }

  /// Every model with a manifest, sorted by name.
  public func entries() throws -> [Entry] {
    let root = URL(fileURLWithPath: path).appendingPathComponent("manifests")
    guard FileManager.default.fileExists(atPath: root.path) else {
      throw RunDirectoryError("\(path) is not an Ollama model store (no manifests/ folder); pull a model into it with `caravan models pull MODEL --store \(path)`")
    }
    var entries: [Entry] = []
    let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey, .contentModificationDateKey])
    while let url = enumerator?.nextObject() as? URL {
      guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
      let parts = url.path.dropFirst(root.path.count + 1).split(separator: "/").map(String.init)
      guard parts.count >= 4 else { continue }
      let reference = "\(parts[0])/\(parts[1...].dropLast(2).joined(separator: "/"))/\(parts[parts.count - 2]):\(parts.last!)"
      let name = ModelName(reference).description
      var size = 0, missing = 0
      if let manifest = try? JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: url)) {
        for layer in (manifest["layers"]?.arrayValue ?? []) + [manifest["config"]].compactMap({ $0 }) {
          size += layer["size"]?.intValue ?? 0
          if let digest = layer["digest"]?.stringValue {
            let blob = path + "/blobs/" + digest.replacingOccurrences(of: ":", with: "-")
            if !FileManager.default.fileExists(atPath: blob) { missing += 1 }
          }
        }
      }
      let modified = try? url.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate
      entries.append(Entry(name: name, size: size, modified: modified, missingBlobs: missing))
    }
    return entries.sorted { $0.name < $1.name }
  }
}

/// Models a job needs that its store does not have: submit refuses before writing anything.
public struct MissingModelsError: Error, CustomStringConvertible {
  public var models: [String]
  public var store: String

  public var description: String {
    var text = "the model store \(store) lacks \(models.count == 1 ? "a model" : "models") this job needs: \(models.joined(separator: ", ")).\n"
    text += "Compute nodes usually have no internet, so pull on a login node first:\n"
    text += models.map { "  caravan models pull \($0) --store \(store)" }.joined(separator: "\n")
    return text
  }
}
