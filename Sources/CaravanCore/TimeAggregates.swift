/// Running aggregates over time that `caravan collect` keeps per node and per GPU. Each holds a
/// bounded amount of state, however many records or samples it is fed, so collect's memory stays
/// flat as runs grow.

/// Time with at least one request in flight: the union of request intervals, fed in any order.
///
/// The union is kept exactly as sorted, disjoint busy periods while there are at most `limit` of
/// them. Past that, the shortest idle gaps are counted as busy (merging their neighbours), which
/// halves the list; `approximate` then says the total may be slightly high. A node that works
/// continuously has few busy periods, so in practice the answer is exact.
public struct BusyTime: Sendable, Equatable {
  /// A stretch of time with requests in flight, in seconds.
  public struct Period: Sendable, Equatable {
    public var start: Double
    public var end: Double
  }

  public let limit: Int
  public private(set) var periods: [Period] = []
  /// True once idle gaps have been merged away to stay within `limit`.
  public private(set) var approximate = false

  public init(limit: Int = 4096) { self.limit = max(2, limit) }

  /// Seconds with at least one interval open.
  public var seconds: Double { periods.reduce(0) { $0 + ($1.end - $1.start) } }

  /// Adds the interval [start, end], in seconds on any fixed clock.
  public mutating func add(start: Double, end: Double) {
    guard start.isFinite, end.isFinite, end >= start else { return }
    // Records come roughly in time order, so most intervals touch only the last period.
    if let last = periods.last, start >= last.start {
      if start > last.end {
        periods.append(Period(start: start, end: end))
        if periods.count > limit { mergeShortestGaps() }
      } else if end > last.end {
        periods[periods.count - 1].end = end
      }
      return
    }
    // The first period that ends at or after `start` is the first one the new interval can touch.
    var low = 0, high = periods.count
    while low < high {
      let middle = (low + high) / 2
      if periods[middle].end < start { low = middle + 1 } else { high = middle }
    }
    var last = low
    var merged = Period(start: start, end: end)
    while last < periods.count, periods[last].start <= end {
      merged.start = min(merged.start, periods[last].start)
      merged.end = max(merged.end, periods[last].end)
      last += 1
    }
    periods.replaceSubrange(low..<last, with: [merged])
    if periods.count > limit { mergeShortestGaps() }
  }

  private mutating func mergeShortestGaps() {
    approximate = true
    let gaps = (1..<periods.count).map { (index: $0, length: periods[$0].start - periods[$0 - 1].end) }
    let closing = Set(gaps.sorted { $0.length < $1.length }.prefix(periods.count / 2).map(\.index))
    var kept: [Period] = []
    kept.reserveCapacity(periods.count - closing.count)
    for (index, period) in periods.enumerated() {
      if closing.contains(index) { kept[kept.count - 1].end = period.end } else { kept.append(period) }
    }
    periods = kept
  }
}

/// Values over time for several series in at most `capacity` equal buckets on one shared axis.
///
/// The axis starts narrow and doubles its bucket width (merging pairs of buckets) whenever a time
/// falls outside it, on either side, so it always covers everything added with between
/// `capacity / 2` and `capacity` buckets in use, whatever the run's length. Points (GPU samples)
/// give each bucket a mean; spans (requests) give each bucket the time they overlapped it, so
/// `level` is the mean number open at once.
public struct TimeBuckets<Key: Hashable & Sendable>: Sendable {
  /// One bucket of one series.
  public struct Bucket: Sendable, Equatable {
    /// Seconds on the clock the values were added with.
    public var start: Double
    public var width: Double
    /// Sum of point values, or of span-seconds overlapping the bucket.
    public var sum: Double
    /// Points added to the bucket (0 for spans).
    public var count: Int
    /// Mean of the points in the bucket.
    public var mean: Double? { count > 0 ? sum / Double(count) : nil }
    /// Mean number of spans open across the bucket.
    public var level: Double { sum / width }
  }

  private struct Series: Sendable {
    var sums: [Double]
    var counts: [Int]
  }

  public let capacity: Int
  public private(set) var origin: Double?
  public private(set) var width: Double
  private var series: [Key: Series] = [:]

  /// `capacity` is rounded up to an even number; `initialWidth` is the finest resolution, in seconds.
  public init(capacity: Int = 256, initialWidth: Double = 1) {
    self.capacity = max(2, capacity + capacity % 2)
    width = initialWidth
  }

  /// The series added so far.
  public var seriesKeys: [Key] { Array(series.keys) }

  /// The end of the axis.
  public var end: Double? { origin.map { $0 + Double(capacity) * width } }

  public mutating func addPoint(_ key: Key, at time: Double, value: Double) {
    guard time.isFinite, value.isFinite else { return }
    cover(time)
    let index = bucket(time)
    // Taken out and put back, so the arrays are not copied on write.
    var values = series.removeValue(forKey: key) ?? empty
    values.sums[index] += value
    values.counts[index] += 1
    series[key] = values
  }

  /// Adds a span [start, end] that counts `weight` (1: one request) while it is open.
  public mutating func addSpan(_ key: Key, from start: Double, to end: Double, weight: Double = 1) {
    guard start.isFinite, end.isFinite, end >= start else { return }
    cover(start)
    cover(end)
    var values = series.removeValue(forKey: key) ?? empty
    let origin = self.origin ?? start
    for index in bucket(start)...bucket(end) {
      let low = origin + Double(index) * width
      let overlap = min(end, low + width) - max(start, low)
      if overlap > 0 { values.sums[index] += overlap * weight }
    }
    series[key] = values
  }

  /// The buckets of one series from its first non-empty bucket to its last.
  public func buckets(_ key: Key) -> [Bucket] {
    guard let origin, let values = series[key] else { return [] }
    guard let first = values.sums.indices.first(where: { values.sums[$0] != 0 || values.counts[$0] > 0 }),
      let last = values.sums.indices.last(where: { values.sums[$0] != 0 || values.counts[$0] > 0 })
    else { return [] }
    return (first...last).map { Bucket(start: origin + Double($0) * width, width: width, sum: values.sums[$0], count: values.counts[$0]) }
  }

  private var empty: Series { Series(sums: Array(repeating: 0, count: capacity), counts: Array(repeating: 0, count: capacity)) }

  /// The bucket of `time`, clamped to the axis. Clamped before it becomes an `Int`: a time the
  /// axis could not widen to (a record claiming a wall time of 1e300 ms) would trap there.
  private func bucket(_ time: Double) -> Int {
    let position = ((time - (origin ?? time)) / width).rounded(.down)
    guard position.isFinite else { return position > 0 ? capacity - 1 : 0 }
    return Int(min(Double(capacity - 1), max(0, position)))
  }

  private mutating func cover(_ time: Double) {
    guard let start = origin else {
      origin = (time / width).rounded(.down) * width
      return
    }
    var low = start
    // Doubling 64 times covers any span of finite times.
    for _ in 0..<64 {
      if time < low {
        low -= Double(capacity) * width
        widen(into: capacity / 2)
      } else if time >= low + Double(capacity) * width {
        widen(into: 0)
      } else {
        break
      }
      origin = low
    }
  }

  /// Doubles the bucket width: pairs of buckets become one, placed from `offset` on.
  private mutating func widen(into offset: Int) {
    width *= 2
    for key in series.keys {
      var merged = empty
      let old = series[key]!
      for index in 0..<(capacity / 2) {
        merged.sums[offset + index] = old.sums[2 * index] + old.sums[2 * index + 1]
        merged.counts[offset + index] = old.counts[2 * index] + old.counts[2 * index + 1]
      }
      series[key] = merged
    }
  }
}

/// ISO 8601 times as records and timing files write them, read fast: collect reads one per record.
public enum ISOTimestamp {
  /// Seconds since 1970 for `2026-01-01T12:00:00Z`, `...00.123Z` or `...00+02:00`; nil otherwise.
  public static func seconds(_ text: String) -> Double? {
    var text = text
    return text.withUTF8 { bytes -> Double? in
      guard bytes.count >= 20 else { return nil }
      func digits(_ from: Int, _ count: Int) -> Int? {
        var value = 0
        for index in from..<(from + count) {
          let byte = bytes[index]
          guard byte >= 48, byte <= 57 else { return nil }
          value = value * 10 + Int(byte - 48)
        }
        return value
      }
      guard let year = digits(0, 4), bytes[4] == 45, let month = digits(5, 2), bytes[7] == 45, let day = digits(8, 2),
        bytes[10] == 84 || bytes[10] == 116 || bytes[10] == 32, let hour = digits(11, 2), bytes[13] == 58,
        let minute = digits(14, 2), bytes[16] == 58, let second = digits(17, 2),
        (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
      else { return nil }
      var position = 19
      var fraction = 0.0
      if bytes[position] == 46 {
        var numerator = 0, denominator = 1
        position += 1
        while position < bytes.count, bytes[position] >= 48, bytes[position] <= 57 {
          if denominator < 1_000_000_000 {
            numerator = numerator * 10 + Int(bytes[position] - 48)
            denominator *= 10
          }
          position += 1
        }
        fraction = Double(numerator) / Double(denominator)
      }
      guard position < bytes.count else { return nil }
      var offset = 0
      switch bytes[position] {
      case 90, 122:  // Z
        guard position + 1 == bytes.count else { return nil }
      case 43, 45:  // + or -
        guard position + 6 == bytes.count, let hours = digits(position + 1, 2), bytes[position + 3] == 58, let minutes = digits(position + 4, 2) else { return nil }
        offset = (hours * 60 + minutes) * 60 * (bytes[position] == 45 ? -1 : 1)
      default:
        return nil
      }
      let days = CivilDate.daysSince1970(year: year, month: month, day: day)
      return Double(days * 86400 + hour * 3600 + minute * 60 + second - offset) + fraction
    }
  }
}
