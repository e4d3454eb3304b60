import CaravanCore

/// Quotes a value for bash so it reaches the command as one word, unchanged.
public func shellQuote(_ value: String) -> String {
  let safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@%+,"
  if !value.isEmpty && value.allSatisfy({ safe.contains($0) }) { return value }
  return "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// Quotes a value for bash, like `shellQuote`, but a value with a line break or another ASCII
/// control character becomes `$'...'` with escapes, so each value stays on one line of the
/// script (sbatch refuses a script with a `\r\n` anywhere in it). Only for bash scripts: `sh`
/// (dash, which runs `sbatch --wrap`) has no `$'...'`.
public func bashQuote(_ value: String) -> String {
  guard value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) else { return shellQuote(value) }
  var out = "$'"
  for scalar in value.unicodeScalars {
    switch scalar {
    case "\\": out += "\\\\"
    case "'": out += "\\'"
    case "\n": out += "\\n"
    case "\r": out += "\\r"
    case "\t": out += "\\t"
    case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += "\\x" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
    default: out.unicodeScalars.append(scalar)
    }
  }
  return out + "'"
}

/// `text` made safe for a line that bash reads as a comment (or sbatch as `#SBATCH`): a line
/// break or other control character would end the comment and start a command, so each becomes
/// `?`. The spec's checks refuse them where they matter (paths, Slurm options); this is the
/// renderer's own guard, for a value that reached it another way.
public func oneLine(_ text: String) -> String {
  guard TextLines.hasControl(text) else { return text }
  var scalars = String.UnicodeScalarView()
  scalars.append(contentsOf: text.unicodeScalars.map { TextLines.isControl($0) ? "?" : $0 })
  return String(scalars)
}

extension String {
  func replacingOccurrences(of target: String, with replacement: String) -> String {
    split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
  }
}
