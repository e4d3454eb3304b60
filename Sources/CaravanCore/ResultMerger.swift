/// Merges shard results into plan order: one record per key, the last one written winning.
public struct ResultMerger: Sendable {
  /// Keys in plan order (index = seq).
  private let expected: [WorkKey]
  private let position: [WorkKey: Int]
  private var latest: [Int: ResultRecord] = [:]
  private var counts: [Int: Int] = [:]
  /// Records whose key is not in the plan (a corrupted or foreign results file).
  public private(set) var unexpected: [WorkKey] = []

  public init(expected: [WorkKey]) {
    self.expected = expected
    var position: [WorkKey: Int] = [:]
    for (index, key) in expected.enumerated() { position[key] = index }
    self.position = position
  }

  /// Adds records in the order they were written.
  public mutating func add(_ record: ResultRecord) {
    guard let index = position[record.key] else {
      unexpected.append(record.key)
      return
    }
    latest[index] = record
    counts[index, default: 0] += 1
  }

  /// The merged records, in plan order; missing keys are skipped.
  public var records: [ResultRecord] {
    expected.indices.compactMap { latest[$0] }
  }

  /// Planned keys with no record yet, in plan order.
  public var missing: [WorkKey] {
    expected.indices.filter { latest[$0] == nil }.map { expected[$0] }
  }

  /// Keys that have more than one record (a retried error, or a lost exactly-once guarantee).
  public var repeated: [(key: WorkKey, count: Int)] {
    counts.keys.sorted().compactMap { counts[$0]! > 1 ? (expected[$0], counts[$0]!) : nil }
  }
}
