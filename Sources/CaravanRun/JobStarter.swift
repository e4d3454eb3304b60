import CaravanCore
import CaravanRender
import CaravanSlurm
import CaravanStorage
import Foundation

/// `caravan init`: writes a first job (`job.yaml` and `prompts.jsonl`) into a folder.
public struct JobStarter: Sendable {
  /// A file is already there; nothing was written.
  public struct Exists: Error, CustomStringConvertible {
    public var paths: [String]
    public var description: String {
      let list = paths.joined(separator: " and ")
      return "\(list) already exist\(paths.count == 1 ? "s" : ""); caravan init overwrites nothing. Move \(paths.count == 1 ? "it" : "them") away, or run caravan init in another folder (caravan init DIR)."
    }
  }

  /// What was written, and what the user should know about the values in it.
  public struct Written: Sendable {
    public var spec: String
    public var prompts: String
    public var notes: [String]
  }

  public static let specName = "job.yaml"
  public static let promptsName = "prompts.jsonl"

  public var version: String
  public var sinfoTimeout: Duration

  public init(version: String, sinfoTimeout: Duration = .seconds(10)) {
    self.version = version
    self.sinfoTimeout = sinfoTimeout
  }

  /// Checks that neither file exists, asks Slurm for its partitions, and writes both files
  /// (each created exclusively: a file that appears meanwhile is not overwritten either).
  public func write(into folder: String) async throws -> Written {
    let manager = FileManager.default
    let base = URL(fileURLWithPath: folder).standardizedFileURL
    let spec = base.appendingPathComponent(Self.specName).path
    let prompts = base.appendingPathComponent(Self.promptsName).path
    let existing = [spec, prompts].filter { manager.fileExists(atPath: $0) }
    guard existing.isEmpty else { throw Exists(paths: existing) }

    let cluster: StarterSpec.Cluster
    switch await SlurmPartition.query(timeout: sinfoTimeout) {
    case .answered(let partitions): cluster = .partitions(partitions)
    case .unavailable(let reason): cluster = .unavailable(reason)
    }
    let starter = StarterSpec(name: StarterSpec.name(fromFolder: base.lastPathComponent), promptFile: Self.promptsName, cluster: cluster, version: version)
    do {
      try manager.createDirectory(at: base, withIntermediateDirectories: true)
    } catch {
      throw StarterError("\(WriteFailure(path: base.path, error: error)); choose another folder")
    }
    try Self.create(prompts, starter.renderPrompts())
    do {
      try Self.create(spec, starter.renderSpec())
    } catch {
      try? manager.removeItem(atPath: prompts)
      throw error
    }
    return Written(spec: spec, prompts: prompts, notes: starter.notes())
  }

  /// Creates `path` with `text`, failing if it exists (O_EXCL).
  static func create(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else {
      if errno == EEXIST { throw Exists(paths: [path]) }
      throw StarterError("cannot write \(path): \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
      let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      guard written > 0 else { throw StarterError("cannot write \(path): \(String(cString: strerror(errno)))") }
      offset += written
    }
  }
}

/// A file system failure while writing the first job.
public struct StarterError: Error, CustomStringConvertible {
  public var description: String
  init(_ description: String) { self.description = description }
}
