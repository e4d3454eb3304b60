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
    let index = slot(of: value)
    guard slots[index] == 0 else { return false }
    slots[index] = value &+ 1
    count += 1
    return true
  }

  /// Where `value` (not UInt64.max) is, or the free slot where it would go: slots are probed
  /// from its multiply-shift place on.
  private func slot(of value: UInt64) -> Int {
    let stored = value &+ 1
    var index = Int(truncatingIfNeeded: (value &* 0x9E37_79B9_7F4A_7C15) >> shift)
    let mask = slots.count - 1
    while slots[index] != stored, slots[index] != 0 { index = (index + 1) & mask }
    return index
  }

  public mutating func formUnion<S: Sequence<UInt64>>(_ values: S) {
    for value in values { insert(value) }
  }

  public static func == (a: HashSet64, b: HashSet64) -> Bool {
    guard a.count == b.count, a.hasMax == b.hasMax else { return false }
    return a.slots.allSatisfy { $0 == 0 || b.contains($0 &- 1) }
  }

  public func contains(_ value: UInt64) -> Bool {
    value == .max ? hasMax : slots[slot(of: value)] != 0
  }

  private mutating func grow() {
    let old = slots
    slots = [UInt64](repeating: 0, count: old.count * 2)
    shift -= 1
    count = hasMax ? 1 : 0
    for slot in old where slot != 0 { insert(slot &- 1) }
  }
}
