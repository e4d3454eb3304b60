import CaravanCore
import Foundation
import Synchronization

/// Dynamic distribution's bookkeeping on shared storage: which task holds which chunk, and
/// which chunks are done. No service runs it: each task reads and writes small files in
/// `claims/`, and the file system's exclusive create decides every race.
///
/// - `claims/shard-NNNN.gG` claims chunk NNNN for generation G. It is made with
///   `O_CREAT|O_EXCL`, which NFS v3+ and Lustre honour across nodes (a rename is not safe
///   there), so exactly one task holds each generation. Its content is the holder and a
///   heartbeat: the holder rewrites it every `heartbeatInterval`.
/// - A holder that stops heartbeating for `timeout` (killed, preempted, its node gone) loses the
///   chunk: the next task that looks claims generation G+1, and sends what has no record yet.
/// - Generation G writes its records to a results file of its own (`RunLayout.resultFile(_:generation:)`),
///   so two holders never append to one file; keys, not chunks, are the unit of truth, and
///   collect keeps one record of each key.
/// - `claims/shard-NNNN.done`: every item of the chunk has a record.
///
/// Staleness is judged from the time written in the heartbeat, read through `open` (NFS
/// revalidates a file's data on open, while `stat` may return cached attributes for a minute),
/// so clocks need only agree to well within `timeout`, as NTP keeps them.
public final class ChunkClaims: Sendable {
  public let folder: String
  public let chunks: Int
  /// Who claims: `jobid_task` (or `jobid#task` for `layout: nodes`), unique to this task.
  public let holder: String
  public let task: Int
  public let node: String
  public let timeout: Duration
  private let state = Mutex(State())

  struct State {
    var operations = 0
    var beat = 0
    /// Where the search for an unclaimed chunk goes on from: chunks before it are claimed.
    var cursor = 0
    /// Chunks this instance holds (claimed, not finished).
    var held: Set<Int> = []
  }

  /// One held generation of a chunk.
  public struct Claim: Sendable, Equatable {
    public var chunk: Int
    public var generation: Int
  }

  /// What `next()` found.
  public enum Next: Sendable, Equatable {
    /// This task now holds the chunk (`reclaimed`: from a holder that stopped heartbeating, or from
    /// an earlier run of this very task).
    case claimed(Claim, reclaimed: Bool)
    /// Nothing to claim, but other tasks hold unfinished chunks: their heartbeats, by chunk.
    case wait([Int: Heartbeat])
    /// Every chunk is done.
    case finished
  }

  /// A claim file's content.
  public struct Heartbeat: Sendable, Equatable, Codable {
    public var holder: String
    public var task: Int
    public var node: String
    public var beat: Int
    /// Seconds since 1970 when it was written, by the holder's clock.
    public var at: Double
    public var generation: Int?
  }

  public init(layout: RunLayout, chunks: Int, holder: String, task: Int, node: String, timeout: Duration) {
    folder = layout.claimsDir
    self.chunks = chunks
    self.holder = holder
    self.task = task
    self.node = node
    self.timeout = timeout
  }

  /// How often a holder rewrites its claims: a sixth of the timeout, so five beats may be lost
  /// or delayed before another task takes the chunk over.
  public var heartbeatInterval: Duration { timeout / 6 }

  /// File-system operations so far (a listing, a create, a read or a rewrite of a claim each count one).
  public var operations: Int { state.withLock { $0.operations } }

  public static func claimName(_ chunk: Int, generation: Int) -> String {
    String(RunLayout.shardName(chunk).dropLast(".jsonl".count)) + ".g\(generation)"
  }

  public static func doneName(_ chunk: Int) -> String {
    String(RunLayout.shardName(chunk).dropLast(".jsonl".count)) + ".done"
  }

  /// What the folder holds: each chunk's highest claimed generation, and the chunks done.
  public struct Listing: Sendable, Equatable {
    public var generations: [Int: Int] = [:]
    public var done: Set<Int> = []
    /// Claimed and not done.
    public var inProgress: [Int] { generations.keys.filter { !done.contains($0) }.sorted() }
  }

  public func list() throws -> Listing {
    count(1)
    return try Self.list(folder)
  }

  /// Reads the folder without counting (status and collect read it too).
  public static func list(_ folder: String) throws -> Listing {
    var listing = Listing()
    let names: [String]
    do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
      if !FileManager.default.fileExists(atPath: folder) { return listing }
      throw RunDirectoryError("cannot list \(folder): \(error.localizedDescription)")
    }
    for name in names where name.hasPrefix("shard-") {
      let parts = name.dropFirst("shard-".count).split(separator: ".")
      guard parts.count == 2, let chunk = Int(parts[0]) else { continue }
      if parts[1] == "done" {
        listing.done.insert(chunk)
      } else if parts[1].hasPrefix("g"), let generation = Int(parts[1].dropFirst()) {
        listing.generations[chunk] = max(listing.generations[chunk] ?? -1, generation)
      }
    }
    return listing
  }

  /// Whether `next()` could claim a chunk now: one never claimed, one whose holder stopped
  /// heartbeating, or one an earlier run of this task held. Claims nothing: a task asks before it
  /// starts its servers, and claims once they answer.
  public func hasWork() throws -> Bool {
    let listing = try list()
    if listing.generations.count < chunks { return true }
    let held = state.withLock { $0.held }
    for chunk in listing.inProgress where !held.contains(chunk) {
      guard let generation = listing.generations[chunk], let beat = read(chunk, generation: generation) else { continue }
      if isTakeable(beat) { return true }
    }
    return false
  }

  /// The take-over rule: a claim an earlier run of this task made, or one whose heartbeat is
  /// older than the timeout.
  private func isTakeable(_ beat: Heartbeat) -> Bool {
    beat.holder == holder || Date().timeIntervalSince1970 - beat.at > Double(timeout.components.seconds)
  }

  /// Claims the next chunk: first one whose holder stopped heartbeating (or is an earlier run of
  /// this task), then the first never claimed.
  public func next() throws -> Next {
    try RunFileModes.makeFolders(folder)
    let listing = try list()
    var others: [Int: Heartbeat] = [:]
    let held = state.withLock { $0.held }
    for chunk in listing.inProgress where !held.contains(chunk) {
      guard let generation = listing.generations[chunk] else { continue }
      let beat = read(chunk, generation: generation)
      // An unreadable claim is being written (or was made by a create that has not written yet):
      // it is not stale until it says so.
      guard let beat else {
        others[chunk] = Heartbeat(holder: "?", task: -1, node: "?", beat: -1, at: Date().timeIntervalSince1970)
        continue
      }
      if isTakeable(beat) {
        if try create(chunk, generation: generation + 1) { return .claimed(Claim(chunk: chunk, generation: generation + 1), reclaimed: true) }
        continue
      }
      others[chunk] = beat
    }
    var chunk = state.withLock { $0.cursor }
    while chunk < chunks {
      if listing.generations[chunk] == nil, try create(chunk, generation: 0) {
        state.withLock { $0.cursor = chunk + 1 }
        return .claimed(Claim(chunk: chunk, generation: 0), reclaimed: false)
      }
      chunk += 1
    }
    state.withLock { $0.cursor = chunks }
    return others.isEmpty ? .finished : .wait(others)
  }

  /// Rewrites the heartbeat of each claim; returns those another task has taken over since
  /// (a higher generation exists), which this task should stop sending.
  public func heartbeat(_ claims: [Claim]) -> [Claim] {
    let beat = state.withLock { state -> Int in
      state.beat += 1
      return state.beat
    }
    var lost: [Claim] = []
    for claim in claims {
      count(2)
      if access(folder + "/" + Self.claimName(claim.chunk, generation: claim.generation + 1), F_OK) == 0 {
        lost.append(claim)
        continue
      }
      write(claim, beat: beat)
    }
    return lost
  }

  /// Marks a chunk whose every item has a record.
  public func finish(_ claim: Claim) throws {
    count(1)
    state.withLock { _ = $0.held.remove(claim.chunk) }
    let path = folder + "/" + Self.doneName(claim.chunk)
    let fd = RunFileModes.open(path, flags: O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { throw RunDirectoryError("cannot write \(path): \(String(cString: strerror(errno)))") }
    close(fd)
  }

  /// Forgets a claim another task took over: this instance no longer holds it.
  public func abandon(_ claim: Claim) {
    state.withLock { _ = $0.held.remove(claim.chunk) }
  }

  /// The heartbeat in a claim file; nil when it cannot be read or is being written.
  public func read(_ chunk: Int, generation: Int) -> Heartbeat? {
    count(1)
    return Self.read(folder + "/" + Self.claimName(chunk, generation: generation))
  }

  /// The heartbeat in the claim file at `path` (status reads who holds what).
  public static func heartbeat(at path: String) -> Heartbeat? { read(path) }

  static func read(_ path: String) -> Heartbeat? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: Self.recordSize)
    let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Self.recordSize, 0) }
    guard got > 0 else { return nil }
    let text = buffer[..<got].prefix { $0 != UInt8(ascii: "\n") }
    return try? JSONDecoder().decode(Heartbeat.self, from: Data(text))
  }

  /// A claim's content is one line padded to this size and written in one `pwrite` at offset 0,
  /// so a reader sees the old beat or the new one, never a mix or an empty file.
  static let recordSize = 512

  /// Makes the claim file of `generation` if no task has; true when this task made it.
  private func create(_ chunk: Int, generation: Int) throws -> Bool {
    count(1)
    let path = folder + "/" + Self.claimName(chunk, generation: generation)
    let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
      if errno == EEXIST { return false }
      throw RunDirectoryError("cannot claim \(path): \(String(cString: strerror(errno)))")
    }
    if let mode = RunFileModes.file(in: folder) { fchmod(fd, mode) }
    state.withLock { _ = $0.held.insert(chunk) }
    let line = record(beat: state.withLock { $0.beat }, generation: generation)
    _ = line.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    close(fd)
    return true
  }

  private func write(_ claim: Claim, beat: Int) {
    let fd = open(folder + "/" + Self.claimName(claim.chunk, generation: claim.generation), O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    let line = record(beat: beat, generation: claim.generation)
    _ = line.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    close(fd)
  }

  private func record(beat: Int, generation: Int) -> Data {
    let heartbeat = Heartbeat(holder: holder, task: task, node: node, beat: beat, at: Date().timeIntervalSince1970, generation: generation)
    var data = (try? JSONLines.lineEncoder().encode(heartbeat)) ?? Data()
    data.append(UInt8(ascii: "\n"))
    if data.count < Self.recordSize { data.append(contentsOf: [UInt8](repeating: UInt8(ascii: " "), count: Self.recordSize - data.count)) }
    return data
  }

  private func count(_ operations: Int) {
    state.withLock { $0.operations += operations }
  }
}

extension ChunkClaims {
  /// Lets the next run claim every unfinished chunk at once, and the `pending` ones again (a
  /// done chunk with items to send: records lost, or errors to retry). `caravan resume` calls it
  /// when the run's job is gone (its holders cannot be writing), so the new tasks need not wait
  /// out the timeout. Returns the files removed.
  public static func release(in layout: RunLayout, pending: Set<Int> = []) throws -> Int {
    let listing = try list(layout.claimsDir)
    var released = 0
    for chunk in Set(listing.inProgress).union(pending.intersection(listing.generations.keys)) {
      for generation in 0...(listing.generations[chunk] ?? 0) {
        if unlink(layout.claimsDir + "/" + claimName(chunk, generation: generation)) == 0 { released += 1 }
      }
      if unlink(layout.claimsDir + "/" + doneName(chunk)) == 0 { released += 1 }
    }
    return released
  }
}
