/// Arithmetic on numbers read from files and servers (token counts, durations, sizes): a sum
/// that would overflow stops at the largest value instead of trapping, so a damaged record or a
/// server's nonsense answer skews a report rather than killing `caravan collect`.
extension Int {
  /// `self + other`, held at `Int.max` or `Int.min` instead of overflowing.
  public func addingSaturating(_ other: Int) -> Int {
    let (sum, overflow) = addingReportingOverflow(other)
    return overflow ? (other > 0 ? .max : .min) : sum
  }

  /// `self * other`, held at `Int.max` or `Int.min` instead of overflowing.
  public func multipliedSaturating(by other: Int) -> Int {
    let (product, overflow) = multipliedReportingOverflow(by: other)
    return overflow ? ((self < 0) == (other < 0) ? .max : .min) : product
  }
}

extension Double {
  /// The value rounded towards zero as an `Int`, held at `Int.max` or `Int.min` beyond its
  /// range (where `Int(_:)` traps); nil for NaN.
  public var saturatingInt: Int? {
    if isNaN { return nil }
    // 2^63 is the first Double past Int.max (which Double cannot hold exactly); -2^63 is Int.min.
    if self >= 9_223_372_036_854_775_808.0 { return .max }
    if self <= -9_223_372_036_854_775_808.0 { return .min }
    return Int(self)
  }
}
