/// How much Caravan reads and plans from one job. Each limit is far above a real job's needs;
/// past it, input is refused with the number and the limit, before anything is expanded, so a
/// typo in `repeats` or a YAML alias bomb costs a message instead of a login node's memory.
public enum InputLimits {
  /// Work items one run may have (prompts × variants × repeats).
  public static let maxItems = 10_000_000
  /// Variants one spec may make (listed ones plus the sweep's product).
  public static let maxVariants = 10_000
  /// Bytes of a job spec file.
  public static let maxSpecBytes = 8 << 20
  /// YAML values in a job spec once anchors and aliases are expanded (what the parser walks).
  public static let maxSpecValues = 1_000_000
  /// Bytes of one line of a prompt file (one prompt, with its messages).
  public static let maxPromptLineBytes = 8 << 20
}

/// `60,000,000,000`: counts in messages, grouped by thousands.
public func grouped(_ number: Int) -> String {
  let digits = String(number.magnitude)
  var out = ""
  for (index, digit) in digits.enumerated() {
    if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
    out.append(digit)
  }
  return (number < 0 ? "-" : "") + out
}
