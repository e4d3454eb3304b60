/// A set of 64-bit hashes (the sweep's word and word-pair hashes), by open addressing.
///
/// `Set<UInt64>` runs SipHash over every value it stores or looks up; these values are hashes
/// already, and a million answers of forty words made that a fifth of collect's time. Here a
/// value is placed by a multiply-shift of its bits, and compared as is.
public struct HashSet64: Sendable, Equatable {
  /// Slots hold value + 1 (0 marks a free slot); the value UInt64.max, whose + 1 wraps to 0,
  /// is noted apart.
  private var slots: [UInt64]
  private var shift: UInt64
  private var hasMax = false
  public private(set) var count = 0

  public init() {
    slots = [UInt64](repeating: 0, count: 16)
    shift = 64 - 4
  }

  public var isEmpty: Bool { count == 0 }

  /// Adds `value`; true when it was not there yet.
  @discardableResult
  public mutating func insert(_ value: UInt64) -> Bool {
    guard value != .max else {
      defer { hasMax = true }
      if !hasMax { count += 1 }
      return !hasMax
    }
    // At most half full, so a probe always ends at a free slot.
    if (count + 1) * 2 > slots.count { grow() }
    let stored = value &+ 1
    var index = Int(truncatingIfNeeded: (value &* 0x9E37_79B9_7F4A_7C15) >> shift)
    let mask = slots.count - 1
    while true {
      let slot = slots[index]
      if slot == stored { return false }
      if slot == 0 {
        slots[index] = stored
        count += 1
        return true
      }
      index = (index + 1) & mask
    }
  }

  public mutating func formUnion<S: Sequence<UInt64>>(_ values: S) {
    for value in values { insert(value) }
  }

  public static func == (a: HashSet64, b: HashSet64) -> Bool {
    guard a.count == b.count, a.hasMax == b.hasMax else { return false }
    return a.slots.allSatisfy { $0 == 0 || b.contains($0 &- 1) }
  }

  public func contains(_ value: UInt64) -> Bool {
    if value == .max { return hasMax }
    let stored = value &+ 1
    var index = Int(truncatingIfNeeded: (value &* 0x9E37_79B9_7F4A_7C15) >> shift)
    let mask = slots.count - 1
    while true {
      let slot = slots[index]
      if slot == stored { return true }
      if slot == 0 { return false }
      index = (index + 1) & mask
    }
  }

  private mutating func grow() {
    let old = slots
    slots = [UInt64](repeating: 0, count: old.count * 2)
    shift -= 1
    count = hasMax ? 1 : 0
    for slot in old where slot != 0 { insert(slot &- 1) }
  }
}
