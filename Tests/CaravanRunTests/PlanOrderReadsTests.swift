import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

@testable import CaravanRun

/// Collect's reading threads give the items of a shard in plan order, each with its kept
/// record, exactly as one loop over the shard file would, and a failure after what precedes it.
@Suite struct PlanOrderReadsTests {
  /// A shard file of `count` items and a results file with a record for every item but the
  /// `missing` ones, written in reverse order; `damaged` is written as a line that is not JSON.
  func shard(count: Int, missing: Set<Int> = [], damaged: Int? = nil) throws -> (shardFile: String, kept: KeptRecords) {
    let folder = try TestPaths.temporaryDirectory("plan-order-reads")
    let shardFile = folder.appendingPathComponent("shard.jsonl").path
    let resultsFile = folder.appendingPathComponent("results.jsonl").path
    var shardText = "", resultsText = ""
    var kept = KeptRecords(places: [KeptRecords.Place](repeating: .none, count: count), resultFiles: [resultsFile])
    for seq in 0..<count {
      shardText += #"{"id":"p\#(seq)","input":{"messages":[{"content":"hello \#(seq)","role":"user"}]},"model":"m","options":{},"repeat":1,"seq":\#(seq),"variant":"v"}"# + "\n"
    }
    for seq in (0..<count).reversed() where !missing.contains(seq) {
      let line = seq == damaged
        ? #"{"seq":\#(seq),"status":"ok","torn"#
        : #"{"attempts":1,"error":null,"finished_at":"2026-12-03T10:00:00Z","id":"p\#(seq)","model":"m","node":"n1","options":{},"repeat":1,"response":"answer \#(seq)","seq":\#(seq),"shard":0,"status":"ok","variant":"v","wall_ms":2.5}"#
      kept.places[seq] = try #require(KeptRecords.Place(offset: resultsText.utf8.count, length: Int32(line.utf8.count), file: 0))
      resultsText += line + "\n"
    }
    try shardText.write(toFile: shardFile, atomically: true, encoding: .utf8)
    try resultsText.write(toFile: resultsFile, atomically: true, encoding: .utf8)
    return (shardFile, kept)
  }

  func readAll(_ reads: PlanOrderReads) throws -> [PlannedRead] {
    var all: [PlannedRead] = []
    while let read = try reads.next() { all.append(read) }
    return all
  }

  @Test(arguments: [(1, 512), (2, 3), (3, 7), (2, 25)])
  func everyItemComesOnceInPlanOrderWithItsRecord(readers: Int, batchSize: Int) throws {
    let (shardFile, kept) = try shard(count: 50, missing: [0, 24, 25, 49])
    let reads = PlanOrderReads(shardFile: shardFile, items: 50, kept: kept, readers: readers, batchSize: batchSize)
    let all = try readAll(reads)
    #expect(all.map(\.item.seq) == Array(0..<50))
    #expect(all.map(\.item.id) == (0..<50).map { "p\($0)" })
    for read in all {
      if [0, 24, 25, 49].contains(read.item.seq) {
        #expect(read.found == nil, "item \(read.item.seq) has no record")
      } else {
        #expect(read.found?.record.response == "answer \(read.item.seq)")
        #expect(read.found.map { String(decoding: $0.line, as: UTF8.self).hasPrefix(#"{"attempts":1"#) } == true)
      }
    }
    // Lines beyond the shard's item count are not items.
    #expect(try readAll(PlanOrderReads(shardFile: shardFile, items: 30, kept: kept, readers: readers, batchSize: batchSize)).count == 30)
  }

  @Test(arguments: [1, 2, 3])
  func aRecordThatIsNotJSONFailsAfterTheItemsBeforeIt(readers: Int) throws {
    let (shardFile, kept) = try shard(count: 40, damaged: 17)
    let reads = PlanOrderReads(shardFile: shardFile, items: 40, kept: kept, readers: readers, batchSize: 4)
    var seen: [Int] = []
    #expect(throws: (any Error).self) {
      while let read = try reads.next() { seen.append(read.item.seq) }
    }
    #expect(seen == Array(0..<17))
  }

  /// A record that ends past the end of its file (one cut short after pass 1 found it: a
  /// short read), and a plan line that is not JSON: each fails after the items before it,
  /// never with a record of another.
  @Test(arguments: [1, 2, 3])
  func aShortReadOrADamagedPlanLineFailsAfterTheItemsBeforeIt(readers: Int) throws {
    var (shardFile, kept) = try shard(count: 40)
    let size = try #require(try FileManager.default.attributesOfItem(atPath: kept.resultFiles[0])[.size] as? Int)
    kept.places[31].length = Int32(size)
    let reads = PlanOrderReads(shardFile: shardFile, items: 40, kept: kept, readers: readers, batchSize: 4)
    var seen: [Int] = []
    #expect(throws: (any Error).self) {
      while let read = try reads.next() { seen.append(read.item.seq) }
    }
    #expect(seen == Array(0..<31))

    let (otherShard, otherKept) = try shard(count: 40)
    var lines = try String(contentsOfFile: otherShard, encoding: .utf8).split(separator: "\n").map(String.init)
    lines[13] = #"{"id":"p13","seq":13"#
    try (lines.joined(separator: "\n") + "\n").write(toFile: otherShard, atomically: true, encoding: .utf8)
    let damaged = PlanOrderReads(shardFile: otherShard, items: 40, kept: otherKept, readers: readers, batchSize: 4)
    seen = []
    #expect(throws: (any Error).self) {
      while let read = try damaged.next() {
        #expect(read.found?.record.seq == read.item.seq)
        seen.append(read.item.seq)
      }
    }
    #expect(seen == Array(0..<13))
  }

  @Test func aPlaceHoldsOffsetsUpTo256TiB() throws {
    for offset in [0, 1, 4095, 1 << 32 - 1, 1 << 32, 1 << 40 + 12345, 1 << 48 - 1] {
      let place = try #require(KeptRecords.Place(offset: offset, length: 7, file: 3))
      #expect(place.offset == offset && place.length == 7 && place.file == 3)
    }
    #expect(KeptRecords.Place(offset: 1 << 48, length: 7, file: 0) == nil)
    #expect(KeptRecords.Place(offset: -1, length: 7, file: 0) == nil)
    #expect(KeptRecords.Place.none.offset == -1)
    #expect(MemoryLayout<KeptRecords.Place>.stride == 12)
  }

  /// Stopping early (collect failing on a write) ends the threads: deinit waits for them.
  @Test func stoppingEarlyEndsTheThreads() throws {
    let (shardFile, kept) = try shard(count: 400)
    var reads: PlanOrderReads? = PlanOrderReads(shardFile: shardFile, items: 400, kept: kept, readers: 2, batchSize: 2)
    #expect(try reads?.next()?.item.seq == 0)
    reads = nil  // returns only once both threads have ended (a hang fails the suite)
  }
}
