@testable import CaravanCore
import Testing

/// Merging shard result files: one record per planned key, in plan order.
@Suite("Result merging")
struct ResultMergerTests {
  let items = (0..<4).map { WorkItem(seq: $0, id: "p\($0 / 2)", variant: "default", repeat: $0 % 2 + 1, model: "gemma:7b", input: .prompt("q"), options: [:]) }

  func record(_ seq: Int, _ status: ResultRecord.Status, response: String? = nil, shard: Int = 0) -> ResultRecord {
    var record = ResultRecord(item: items[seq], status: status, node: "n1", shard: shard, attempts: 1, wallMs: 10, finishedAt: "2025-01-01T00:00:00Z")
    record.response = response
    return record
  }

  @Test("records come out in plan order whatever order the shards wrote them")
  func planOrder() {
    var merger = ResultMerger(expected: items.map(\.key))
    for seq in [3, 1, 0, 2] { merger.add(record(seq, .ok)) }
    #expect(merger.records.map(\.seq) == [0, 1, 2, 3])
    #expect(merger.missing.isEmpty)
    #expect(merger.repeated.isEmpty)
    #expect(merger.unexpected.isEmpty)
  }

  @Test("the last record written for a key wins, and the key is counted as repeated")
  func lastRecordWins() throws {
    var merger = ResultMerger(expected: items.map(\.key))
    merger.add(record(0, .error))
    merger.add(record(1, .ok, response: "first"))
    merger.add(record(0, .error))
    merger.add(record(0, .ok, response: "retried"))
    #expect(merger.records.map(\.seq) == [0, 1])
    #expect(merger.records.first?.status == .ok)
    #expect(merger.records.first?.response == "retried")
    let repeated = merger.repeated
    #expect(repeated.count == 1)
    #expect(repeated.first?.key == items[0].key)
    #expect(repeated.first?.count == 3)
  }

  @Test("repeated keys are listed in plan order")
  func repeatedInPlanOrder() {
    var merger = ResultMerger(expected: items.map(\.key))
    for seq in [3, 3, 1, 1, 1, 2] { merger.add(record(seq, .ok)) }
    #expect(merger.repeated.map(\.key) == [items[1].key, items[3].key])
    #expect(merger.repeated.map(\.count) == [3, 2])
  }

  @Test("keys with no record are listed as missing, in plan order")
  func missing() {
    var merger = ResultMerger(expected: items.map(\.key))
    merger.add(record(2, .ok))
    #expect(merger.missing == [items[0].key, items[1].key, items[3].key])
    #expect(merger.records.map(\.seq) == [2])
  }

  @Test("records whose key is not in the plan are set aside as unexpected")
  func unexpected() {
    var merger = ResultMerger(expected: items.map(\.key))
    merger.add(record(0, .ok))
    var foreign = record(1, .ok)
    foreign.variant = "other"
    merger.add(foreign)
    #expect(merger.unexpected == [WorkKey(id: "p0", variant: "other", repeat: 2)])
    #expect(merger.records.map(\.seq) == [0])
    #expect(merger.missing == [items[1].key, items[2].key, items[3].key])
  }
}
