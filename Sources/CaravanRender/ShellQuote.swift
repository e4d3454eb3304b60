/// Quotes a value for bash so it reaches the command as one word, unchanged.
public func shellQuote(_ value: String) -> String {
  let safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@%+,"
  if !value.isEmpty && value.allSatisfy({ safe.contains($0) }) { return value }
  return "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

extension String {
  func replacingOccurrences(of target: String, with replacement: String) -> String {
    split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
  }
}
