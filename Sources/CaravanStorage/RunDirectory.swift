import CaravanCore
import Foundation

/// Reads and writes a run directory on shared storage (layout: `RunLayout`).
public struct RunDirectory: Sendable {
  public let layout: RunLayout

  /// A relative `path` is taken from the current directory, once: the job script and the
  /// local executor run in the run directory, where a relative path would mean something else.
  public init(path: String) {
    layout = RunLayout(root: PathText.absolute(path, against: FileManager.default.currentDirectoryPath))
  }

  public var path: String { layout.root }

  /// The run's manifest, refused when its shard table cannot be right (`Manifest.problems`).
  public func manifest() throws -> Manifest {
    let manifest: Manifest
    do {
      manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: layout.manifest)))
    } catch CocoaError.fileReadNoSuchFile {
      throw RunDirectoryError("\(layout.root) is not a Caravan run directory (no manifest.json)")
    } catch {
      throw RunDirectoryError("cannot read \(layout.manifest): \(error)")
    }
    let problems = manifest.problems
    guard problems.isEmpty else {
      throw RunDirectoryError("\(layout.manifest) is damaged: " + problems.joined(separator: "; ") + " (was it edited? caravan submit writes it; submit the spec again for a new run)")
    }
    return manifest
  }

  /// `submission.json`, once the run has been handed to a scheduler.
  public func submission() throws -> Submission {
    do {
      return try JSONDecoder().decode(Submission.self, from: Data(contentsOf: URL(fileURLWithPath: layout.submission)))
    } catch CocoaError.fileReadNoSuchFile {
      throw RunDirectoryError("\(layout.root) has no submission.json: it was never submitted (or is not a run directory)")
    } catch {
      throw RunDirectoryError("cannot read \(layout.submission): \(error)")
    }
  }

  /// Writes `submission.json`, replacing any earlier one.
  public func record(_ submission: Submission) throws {
    try JSONFormats.documentEncoder().encode(submission).write(to: URL(fileURLWithPath: layout.submission), options: .atomic)
  }

  public func shardItems(_ index: Int) throws -> [WorkItem] {
    let path = layout.shardFile(index)
    guard FileManager.default.fileExists(atPath: path) else {
      throw RunDirectoryError("shard \(index) does not exist in \(layout.root) (no \(path))")
    }
    return try JSONLines.read(WorkItem.self, from: path).values
  }

  /// Every result record of a shard, in the order written (a torn last line is dropped).
  public func results(_ index: Int) throws -> [ResultRecord] {
    try JSONLines.read(ResultRecord.self, from: layout.resultFile(index)).values
  }

  /// Writes a new run directory atomically: everything goes into a hidden sibling that is
  /// renamed into place last, so a half-written run directory is never seen.
  ///
  /// `streamed` files are written piece by piece: each function hands its bytes to the sink it
  /// is given (the shard files, which grow with the item count, are never whole in memory).
  public static func create(
    at path: String, files: [String: Data], streamed: [(path: String, write: ((Data) throws -> Void) throws -> Void)] = [],
    directories: [String] = ["shards", "results", "logs"]
  ) throws -> RunDirectory {
    let fm = FileManager.default
    let url = URL(fileURLWithPath: path)
    let parent = url.deletingLastPathComponent()
    do { try fm.createDirectory(at: parent, withIntermediateDirectories: true) } catch { throw WriteFailure(path: parent.path, error: error) }
    guard !fm.fileExists(atPath: path) else { throw RunDirectoryError("\(path) already exists; choose another --run-dir") }
    let staging = parent.appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())")
    try? fm.removeItem(at: staging)
    do {
      try fm.createDirectory(at: staging, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
      for directory in directories {
        try fm.createDirectory(at: staging.appendingPathComponent(directory), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
      }
      for (relative, data) in files.sorted(by: { $0.key < $1.key }) {
        let target = staging.appendingPathComponent(relative)
        try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        do { try data.write(to: target) } catch { throw WriteFailure(path: path + "/" + relative, error: error) }
      }
      for (relative, write) in streamed {
        try writeStream(write, to: staging.appendingPathComponent(relative).path, shownAs: path + "/" + relative)
      }
      try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: staging.path)
      guard rename(staging.path, path) == 0 else {
        throw RunDirectoryError("cannot move the run directory into place at \(path): \(String(cString: strerror(errno)))")
      }
    } catch {
      try? fm.removeItem(at: staging)
      if error is RunDirectoryError || error is WriteFailure { throw error }
      throw WriteFailure(path: path, error: error)
    }
    return RunDirectory(path: path)
  }

  private static func writeStream(_ write: ((Data) throws -> Void) throws -> Void, to target: String, shownAs shown: String) throws {
    guard FileManager.default.createFile(atPath: target, contents: nil), let handle = FileHandle(forWritingAtPath: target) else {
      throw WriteFailure(path: shown, code: errno)
    }
    defer { try? handle.close() }
    try write { data in
      do { try handle.write(contentsOf: data) } catch { throw WriteFailure(path: shown, error: error) }
    }
  }
}

/// A run directory that is missing, incomplete, or not Caravan's.
public struct RunDirectoryError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

extension RunDirectory {
  /// The resolved spec `caravan submit` wrote.
  public func spec() throws -> JobSpec {
    do {
      return try JSONDecoder().decode(JobSpec.self, from: Data(contentsOf: URL(fileURLWithPath: layout.resolvedSpec)))
    } catch {
      throw RunDirectoryError("cannot read \(layout.resolvedSpec): \(error)")
    }
  }
}
