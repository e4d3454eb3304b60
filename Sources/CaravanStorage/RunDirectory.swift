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
    let manifest = try document(Manifest.self, at: layout.manifest, missing: "\(layout.root) is not a Caravan run directory (no manifest.json)")
    let problems = manifest.problems
    guard problems.isEmpty else {
      throw RunDirectoryError("\(layout.manifest) is damaged: " + problems.joined(separator: "; ") + " (was it edited? caravan submit writes it; submit the spec again for a new run)")
    }
    return manifest
  }

  /// A JSON document of the run: `missing` when it is not there (or the run is no folder),
  /// the system's reason when it cannot be read, the field at fault when it does not decode.
  func document<T: Decodable>(_ type: T.Type, at path: String, missing: String) throws -> T {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      let code = errno
      if code == ENOENT || code == ENOTDIR { throw RunDirectoryError(missing) }
      throw RunDirectoryError("cannot read \(path): \(String(cString: strerror(code)))")
    }
    close(fd)
    guard let data = FileManager.default.contents(atPath: path) else { throw RunDirectoryError("cannot read \(path)") }
    do {
      return try JSONDecoder().decode(T.self, from: data)
    } catch {
      throw RunDirectoryError("\(path) is damaged: \(decodingReason(error)) (was it edited?)")
    }
  }

  /// `submission.json`, once the run has been handed to a scheduler.
  public func submission() throws -> Submission {
    try document(Submission.self, at: layout.submission, missing: "\(layout.root) has no submission.json: it was never submitted (or is not a run directory)")
  }

  /// Writes `submission.json`, replacing any earlier one.
  public func record(_ submission: Submission) throws {
    try JSONFormats.documentEncoder().encode(submission).writeAtomically(to: layout.submission)
    RunFileModes.fix(layout.submission)
  }

  public func shardItems(_ index: Int) throws -> [WorkItem] {
    let path = layout.shardFile(index)
    guard FileManager.default.fileExists(atPath: path) else {
      throw RunDirectoryError("shard \(index) does not exist in \(layout.root) (no \(path))")
    }
    return try JSONLines.read(WorkItem.self, from: path).values
  }

  /// Every result record of a shard, in the order written (a torn last line is dropped): its
  /// results file, then those of later generations (a chunk taken over, dynamic distribution).
  public func results(_ index: Int) throws -> [ResultRecord] {
    try resultFiles(index).flatMap { try JSONLines.read(ResultRecord.self, from: $0).values }
  }

  /// A shard's results files, generation 0 first; those that do not exist are left out.
  public func resultFiles(_ index: Int) -> [String] {
    resultFileTable()[index] ?? []
  }

  /// Every shard's results files, in generation order, from one listing of `results/`.
  public func resultFileTable() -> [Int: [String]] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.resultsDir)) ?? []
    var table: [Int: [(Int, String)]] = [:]
    for name in names {
      guard let (shard, generation) = RunLayout.resultFileShard(name) else { continue }
      table[shard, default: []].append((generation, layout.resultsDir + "/" + name))
    }
    return table.mapValues { $0.sorted { $0.0 < $1.0 }.map(\.1) }
  }

  /// Writes a new run directory atomically: everything goes into a hidden sibling that is
  /// renamed into place last, so a half-written run directory is never seen. Every folder and
  /// file gets `permissions`' mode explicitly (the umask does not decide), `executables` theirs.
  ///
  /// `streamed` files are written piece by piece: each function hands its bytes to the sink it
  /// is given (the shard files, which grow with the item count, are never whole in memory).
  public static func create(
    at path: String, files: [String: Data], streamed: [(path: String, write: ((Data) throws -> Void) throws -> Void)] = [],
    executables: Set<String> = [], directories: [String] = ["shards", "results", "logs"], permissions: RunPermissions = RunPermissions()
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
      var folders: Set<String> = [""]
      for directory in directories {
        try fm.createDirectory(at: staging.appendingPathComponent(directory), withIntermediateDirectories: true)
        folders.formUnion(Self.folders(of: directory + "/x"))
      }
      for (relative, data) in files.sorted(by: { $0.key < $1.key }) {
        let target = staging.appendingPathComponent(relative)
        try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        do { try data.write(to: target) } catch { throw WriteFailure(path: path + "/" + relative, error: error) }
        try setMode(executables.contains(relative) ? permissions.executable : permissions.file, of: target.path)
        folders.formUnion(Self.folders(of: relative))
      }
      for (relative, write) in streamed {
        let target = staging.appendingPathComponent(relative).path
        try writeStream(write, to: target, shownAs: path + "/" + relative)
        try setMode(permissions.file, of: target)
        folders.formUnion(Self.folders(of: relative))
      }
      // Deepest first: the staging root is set last, as it was made 0700 until now.
      for folder in folders.sorted(by: { $0.count > $1.count }) {
        try setMode(permissions.folder, of: folder.isEmpty ? staging.path : staging.appendingPathComponent(folder).path)
      }
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

extension RunDirectory {
  /// The folders above `relative` ("a/b/c" -> "a", "a/b").
  static func folders(of relative: String) -> [String] {
    let parts = relative.split(separator: "/").dropLast()
    return parts.indices.map { parts[...$0].joined(separator: "/") }
  }
}

/// chmod(2), which keeps the setgid bit (FileManager's posixPermissions may not).
func setMode(_ mode: UInt16, of path: String) throws {
  guard chmod(path, mode_t(mode)) == 0 else {
    throw RunDirectoryError("cannot set the mode of \(path): \(String(cString: strerror(errno)))")
  }
}

/// Modes of what is made in a run directory after `create`: a folder takes its parent's mode
/// (setgid included), a file its folder's less the execute bits (0700 -> 0600, 2750 -> 0640).
/// Set explicitly, so the umask of whoever writes (the worker, slurmstepd's user, collect) does
/// not decide, and the job's own umask (its servers' model store, its setup lines) is left alone.
public enum RunFileModes {
  /// The mode a new file in `folder` gets; nil when the folder cannot be read.
  public static func file(in folder: String) -> mode_t? {
    var info = stat()
    guard stat(folder, &info) == 0 else { return nil }
    return info.st_mode & 0o666
  }

  /// Opens `path` (created if missing) and gives it its folder's file mode.
  public static func open(_ path: String, flags: Int32) -> Int32 {
    let fd = Foundation.open(path, flags | O_CREAT, 0o600)
    if fd >= 0, let mode = file(in: (path as NSString).deletingLastPathComponent) { fchmod(fd, mode) }
    return fd
  }

  /// Gives an existing file its folder's file mode (after an atomic write, which makes a new file).
  public static func fix(_ path: String) {
    if let mode = file(in: (path as NSString).deletingLastPathComponent) { chmod(path, mode) }
  }

  /// Makes `path` and any missing folder above it, each with its parent's mode.
  public static func makeFolders(_ path: String) throws {
    var missing: [String] = []
    var folder = path
    while !folder.isEmpty, folder != "/", !FileManager.default.fileExists(atPath: folder) {
      missing.append(folder)
      folder = (folder as NSString).deletingLastPathComponent
    }
    for next in missing.reversed() {
      guard mkdir(next, 0o700) == 0 || errno == EEXIST else {
        throw RunDirectoryError("cannot make \(next): \(String(cString: strerror(errno)))")
      }
      var parent = stat()
      if stat((next as NSString).deletingLastPathComponent, &parent) == 0 { chmod(next, parent.st_mode & 0o7777) }
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
