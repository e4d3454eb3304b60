import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

@testable import CaravanStorage

/// Dynamic distribution's claims, as tasks on several nodes make them through one folder.
@Suite struct ChunkClaimsTests {
  func claims(_ root: URL, holder: String, task: Int, chunks: Int = 10, timeout: Duration = .seconds(5)) -> ChunkClaims {
    ChunkClaims(layout: RunLayout(root: root.path), chunks: chunks, holder: holder, task: task, node: "n\(task)", timeout: timeout)
  }

  /// Claims until none is left, finishing each chunk at once; returns the chunks claimed.
  static func drain(_ claims: ChunkClaims) throws -> [Int] {
    var taken: [Int] = []
    while case .claimed(let claim, _) = try claims.next() {
      taken.append(claim.chunk)
      try claims.finish(claim)
    }
    return taken
  }

  @Test func concurrentTasksClaimEveryChunkExactlyOnce() async throws {
    let root = try TestPaths.temporaryDirectory("claims")
    let chunks = 400
    let takers = (0..<6).map { claims(root, holder: "job_\($0)", task: $0, chunks: chunks) }
    let taken = try await withThrowingTaskGroup(of: [Int].self) { group in
      for taker in takers { group.addTask { try Self.drain(taker) } }
      return try await group.reduce(into: [Int]()) { $0 += $1 }
    }
    #expect(taken.count == chunks, "no chunk claimed twice")
    #expect(Set(taken) == Set(0..<chunks), "none left out")
    let listing = try ChunkClaims.list(root.path + "/claims")
    #expect(listing.done == Set(0..<chunks) && listing.generations.values.allSatisfy { $0 == 0 })
    #expect(try takers[0].next() == .finished)
    // A listing, then one create per claim, one per finish: a handful per chunk, however many tasks.
    let operations = takers.reduce(0) { $0 + $1.operations }
    #expect(operations < chunks * 6, "\(operations) operations for \(chunks) chunks")
  }

  @Test func aHolderThatStopsHeartbeatingLosesItsChunk() throws {
    let root = try TestPaths.temporaryDirectory("claims")
    let a = claims(root, holder: "job_0", task: 0, chunks: 1)
    let b = claims(root, holder: "job_1", task: 1, chunks: 1)
    guard case .claimed(let held, reclaimed: false) = try a.next() else { Issue.record("a claims chunk 0"); return }
    // While a heartbeats, b waits on it.
    guard case .wait(let others) = try b.next() else { Issue.record("b waits"); return }
    #expect(others[0]?.holder == "job_0" && others[0]?.task == 0)
    #expect(a.heartbeat([held]).isEmpty)
    #expect(b.read(0, generation: 0)?.beat == 1)

    // a's heartbeat is now older than the timeout: b takes the chunk over, as generation 1.
    try Self.backdate(root.path + "/claims/" + ChunkClaims.claimName(0, generation: 0), by: 6)
    #expect(try b.next() == .claimed(ChunkClaims.Claim(chunk: 0, generation: 1), reclaimed: true))
    // a learns it at its next heartbeat; its results file and b's differ.
    #expect(a.heartbeat([held]) == [held])
    let layout = RunLayout(root: root.path)
    #expect(layout.resultFile(0, generation: 0) != layout.resultFile(0, generation: 1))
    #expect(RunLayout.resultFileShard("shard-0000.g1.jsonl")! == (0, 1))
    #expect(RunLayout.resultFileShard("shard-0012.jsonl")! == (12, 0))
    #expect(RunLayout.resultFileShard("shard-0012.g0.jsonl") == nil && RunLayout.resultFileShard("shard-x.jsonl") == nil)
  }

  @Test func hasWorkClaimsNothingAndSaysWhetherAClaimWouldSucceed() throws {
    let root = try TestPaths.temporaryDirectory("claims")
    let a = claims(root, holder: "job_0", task: 0, chunks: 1)
    let b = claims(root, holder: "job_1", task: 1, chunks: 1)
    #expect(try b.hasWork() && a.hasWork())
    #expect(try ChunkClaims.list(root.path + "/claims").generations.isEmpty, "asking claims nothing")
    guard case .claimed(let held, _) = try a.next() else { Issue.record("a claims"); return }
    #expect(try !b.hasWork(), "the only chunk is held by a live task")
    try Self.backdate(root.path + "/claims/" + ChunkClaims.claimName(0, generation: 0), by: 6)
    #expect(try b.hasWork(), "its holder stopped heartbeating")
    try a.finish(held)
    #expect(try !b.hasWork())
  }

  @Test func aRequeuedTaskTakesBackItsOwnChunksAtOnce() throws {
    let root = try TestPaths.temporaryDirectory("claims")
    let before = claims(root, holder: "123_4", task: 4, chunks: 2)
    guard case .claimed(let first, _) = try before.next() else { Issue.record("claimed"); return }
    // The same array task after a requeue: same holder, its old heartbeat still fresh.
    let after = claims(root, holder: "123_4", task: 4, chunks: 2)
    #expect(try after.next() == .claimed(ChunkClaims.Claim(chunk: first.chunk, generation: 1), reclaimed: true))
  }

  @Test func releaseFreesUnfinishedChunksAndKeepsDoneOnes() throws {
    let root = try TestPaths.temporaryDirectory("claims")
    let a = claims(root, holder: "job_0", task: 0, chunks: 3)
    guard case .claimed(let done, _) = try a.next(), case .claimed(let open, _) = try a.next() else { Issue.record("two claims"); return }
    try a.finish(done)
    #expect(try ChunkClaims.release(in: RunLayout(root: root.path)) == 1)
    let listing = try ChunkClaims.list(root.path + "/claims")
    #expect(listing.done == [done.chunk] && listing.generations.keys.sorted() == [done.chunk])
    let next = claims(root, holder: "job2_0", task: 0, chunks: 3)
    #expect(try Self.drain(next).sorted() == [open.chunk, 2])
    // A done chunk with work left (records lost, errors to retry) is claimed again once released.
    #expect(try ChunkClaims.release(in: RunLayout(root: root.path), pending: [done.chunk]) == 2)
    #expect(try Self.drain(claims(root, holder: "job3_0", task: 0, chunks: 3)) == [done.chunk])
  }

  @Test func aTornOrEmptyClaimIsNotStale() throws {
    let root = try TestPaths.temporaryDirectory("claims")
    try FileManager.default.createDirectory(atPath: root.path + "/claims", withIntermediateDirectories: true)
    #expect(FileManager.default.createFile(atPath: root.path + "/claims/" + ChunkClaims.claimName(0, generation: 0), contents: Data()))
    let b = claims(root, holder: "job_1", task: 1, chunks: 1)
    guard case .wait = try b.next() else { Issue.record("an unreadable claim is waited on, not taken"); return }
  }

  /// Rewrites a claim's heartbeat as if written `seconds` ago.
  static func backdate(_ path: String, by seconds: Double) throws {
    var beat = try #require(ChunkClaims.heartbeat(at: path))
    beat.at -= seconds
    var data = try JSONEncoder().encode(beat)
    data.append(UInt8(ascii: "\n"))
    try data.write(to: URL(fileURLWithPath: path))
  }
}
