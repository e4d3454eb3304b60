/// Slurm's time strings (`--time`, `squeue -o %L`), read once for every caller.
public enum SlurmTime {
  /// `infinite` or `UNLIMITED`: no time limit (the partition's maximum applies).
  public static func isUnlimited(_ text: String) -> Bool {
    ["infinite", "unlimited"].contains(text.lowercased())
  }

  /// Seconds for "MM", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS" (what `--time`
  /// takes and `squeue -o %L` prints); nil if malformed or a word such as UNLIMITED.
  public static func seconds(_ text: String) -> Int? {
    var days = 0
    var rest = Substring(text.trimmingCharacters(in: .whitespaces))
    let hasDays = rest.contains("-")
    if let dash = rest.firstIndex(of: "-") {
      guard let value = Int(rest[..<dash]), value >= 0, value < 1_000_000 else { return nil }
      days = value
      rest = rest[rest.index(after: dash)...]
    }
    var numbers: [Int] = []
    for part in rest.split(separator: ":", omittingEmptySubsequences: false) {
      guard let value = Int(part), value >= 0, value < 1_000_000_000 else { return nil }
      numbers.append(value)
    }
    let seconds: Int
    switch (hasDays, numbers.count) {
    case (false, 1): seconds = numbers[0] * 60
    case (false, 2): seconds = numbers[0] * 60 + numbers[1]
    case (false, 3), (true, 3): seconds = numbers[0] * 3600 + numbers[1] * 60 + numbers[2]
    case (true, 1): seconds = numbers[0] * 3600
    case (true, 2): seconds = numbers[0] * 3600 + numbers[1] * 60
    default: return nil
    }
    return seconds + days * 86400
  }

  /// Minutes (rounded up) of a time limit, as libslurm's `time_limit` takes it; nil if malformed,
  /// unlimited or zero.
  public static func minutes(_ text: String) -> Int? {
    guard let seconds = seconds(text), seconds > 0 else { return nil }
    return (seconds + 59) / 60
  }
}

/// Slurm memory sizes (`--mem`) in megabytes, the unit libslurm's `pn_min_memory` takes.
public enum SlurmMemory {
  /// `500`, `500M`, `1G`, `2T`, `512K` (rounded up to whole megabytes, as sbatch does); nil if malformed.
  public static func megabytes(_ text: String) -> UInt64? {
    var digits = Substring(text)
    var factor: UInt64 = 1
    var kilobytes = false
    if let last = digits.last, !last.isNumber {
      switch last {
      case "K", "k": kilobytes = true
      case "M", "m": factor = 1
      case "G", "g": factor = 1024
      case "T", "t": factor = 1024 * 1024
      default: return nil
      }
      digits = digits.dropLast()
    }
    guard !digits.isEmpty, digits.allSatisfy(\.isNumber), let value = UInt64(digits) else { return nil }
    if kilobytes { return value / 1024 + (value % 1024 == 0 ? 0 : 1) }
    let (product, overflow) = value.multipliedReportingOverflow(by: factor)
    return overflow ? nil : product
  }
}
