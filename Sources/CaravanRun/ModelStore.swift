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
    /// Layers the manifest names whose blob is missing (a broken or partial pull), or whose
    /// digest is not a sha256 digest (a damaged manifest).
    public var missingBlobs: Int
  }

  /// Whether the store has `model`'s manifest; false for a name Ollama would refuse, so no name
  /// can make this look outside the store.
  public func contains(_ model: String) -> Bool {
    guard let name = try? ModelName(parsing: model) else { return false }
    return FileManager.default.fileExists(atPath: path + "/" + name.manifestPath)
  }

  /// Every model with a manifest at `manifests/<host>/<namespace>/<model>/<tag>`, sorted by
  /// name. Files elsewhere, or in folders that are not valid name parts, are not models Ollama
  /// would list, and are skipped.
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
      guard parts.count == 4, let name = ModelName(host: parts[0], namespace: parts[1], model: parts[2], tag: parts[3]) else { continue }
      var size = 0, missing = 0
      if let manifest = try? JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: url)) {
        for layer in (manifest["layers"]?.arrayValue ?? []) + [manifest["config"]].compactMap({ $0 }) {
          size = size.addingSaturating(max(0, layer["size"]?.intValue ?? 0))
          guard let digest = layer["digest"]?.stringValue else { continue }
          // Only a real digest names a blob: anything else could point outside blobs/.
          guard let blob = Self.blobName(digest), FileManager.default.fileExists(atPath: path + "/blobs/" + blob) else {
            missing += 1
            continue
          }
        }
      }
      let modified = try? url.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate
      entries.append(Entry(name: name.description, size: size, modified: modified, missingBlobs: missing))
    }
    return entries.sorted { $0.name < $1.name }
  }

  /// `sha256-<64 hex digits>` for a manifest's `sha256:<64 hex digits>` (as Ollama's
  /// GetBlobsPath accepts them); nil for anything else.
  static func blobName(_ digest: String) -> String? {
    let bytes = Array(digest.utf8)
    guard bytes.count == 71, digest.hasPrefix("sha256:") || digest.hasPrefix("sha256-") else { return nil }
    let hex = bytes[7...]
    guard hex.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) }) else { return nil }
    return "sha256-" + String(decoding: hex, as: UTF8.self)
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
