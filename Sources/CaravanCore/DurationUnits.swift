/// `Duration` in the units Caravan's files and wire formats use: one conversion for all of them.
extension Duration {
  /// Whole nanoseconds (Ollama's timings); saturates rather than overflowing past ~292 years.
  public var nanoseconds: Int64 {
    let (seconds, attoseconds) = components
    let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    if overflow { return seconds < 0 ? .min : .max }
    let (sum, overflowAgain) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
    return overflowAgain ? (seconds < 0 ? .min : .max) : sum
  }

  /// Milliseconds, to the microsecond (records and timing files).
  public var milliseconds: Double {
    let ms = Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    return (ms * 1000).rounded() / 1000
  }

  /// Seconds, as a floating-point number.
  public var seconds: Double {
    Double(components.seconds) + Double(components.attoseconds) / 1e18
  }
}
