import Foundation

/// What a `task: embed` run produced, for the report: how many vectors, their dimension, their
/// L2 norms, and inputs per second between the first request's start and the last record.
/// Fixed-size, so it grows with neither records nor dimensions.
public struct EmbeddingTally: Sendable, Equatable {
  public private(set) var vectors = 0
  /// Every dimension seen (one, unless the servers disagreed).
  public private(set) var dimensions: Set<Int> = []
  public private(set) var normMin: Double?
  public private(set) var normMax: Double?
  private var normSum = 0.0
  private var firstStart: Double?
  private var lastEnd: Double?

  public init() {}

  public var isEmpty: Bool { vectors == 0 }
  public var normMean: Double? { vectors > 0 ? normSum / Double(vectors) : nil }
  /// Vectors over the wall time from the first request to the last record.
  public var inputsPerSecond: Double? {
    guard let firstStart, let lastEnd, lastEnd > firstStart else { return nil }
    return Double(vectors) / (lastEnd - firstStart)
  }

  public mutating func add(_ record: ResultRecord) {
    guard record.status == .ok, let vector = record.embedding else { return }
    vectors += 1
    dimensions.insert(vector.count)
    let norm = vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    normSum += norm
    normMin = Swift.min(normMin ?? norm, norm)
    normMax = Swift.max(normMax ?? norm, norm)
    if let end = ISOTimestamp.seconds(record.finishedAt) {
      let start = end - record.wallMs / 1000
      firstStart = Swift.min(firstStart ?? start, start)
      lastEnd = Swift.max(lastEnd ?? end, end)
    }
  }
}
