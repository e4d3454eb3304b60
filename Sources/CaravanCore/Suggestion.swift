/// The closest candidate to a misspelt name, for "did you mean" hints; nil when nothing is close.
public func closestMatch<S: Sequence>(to name: String, among candidates: S) -> String?
where S.Element == String {
  // Nothing is a typo of a very long name, and the distance costs its length times each candidate's.
  guard name.utf8.count <= 256 else { return nil }
  let scored = candidates.map { ($0, editDistance(name.lowercased(), $0.lowercased())) }
  guard let best = scored.min(by: { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }) else { return nil }
  let allowed = max(2, min(name.count, best.0.count) / 3)
  return best.1 <= allowed ? best.0 : nil
}

/// Levenshtein distance with adjacent transpositions counted as one edit.
func editDistance(_ a: String, _ b: String) -> Int {
  let a = Array(a), b = Array(b)
  if a.isEmpty { return b.count }
  if b.isEmpty { return a.count }
  var previous2 = [Int](repeating: 0, count: b.count + 1)
  var previous = Array(0...b.count)
  var current = [Int](repeating: 0, count: b.count + 1)
  for i in 1...a.count {
    current[0] = i
    for j in 1...b.count {
      let cost = a[i - 1] == b[j - 1] ? 0 : 1
      current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
      if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
        current[j] = min(current[j], previous2[j - 2] + 1)
      }
    }
    (previous2, previous, current) = (previous, current, previous2)
  }
  return previous[b.count]
}
