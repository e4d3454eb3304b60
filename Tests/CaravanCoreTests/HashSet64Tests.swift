import Testing

@testable import CaravanCore

/// The sweep's hash set, word-set similarity and distinct-answer count give what `Set` gives.
@Suite struct HashSet64Tests {
  @Test func countsAndMembershipMatchSet() {
    var generator = SeededGenerator(seed: 64)
    var mine = HashSet64()
    var reference: Set<UInt64> = []
    // Few distinct values (many repeats), the two ends of the range, and enough to grow often.
    let pool = (0..<3000).map { _ in UInt64.random(in: 0...UInt64.max, using: &generator) } + [0, 1, .max, .max - 1]
    for _ in 0..<20000 {
      let value = pool.randomElement(using: &generator)!
      #expect(mine.insert(value) == reference.insert(value).inserted)
    }
    #expect(mine.count == reference.count)
    for value in pool { #expect(mine.contains(value) == reference.contains(value)) }
    for _ in 0..<1000 {
      let value = UInt64.random(in: 0...UInt64.max, using: &generator)
      #expect(mine.contains(value) == reference.contains(value))
    }
    var copy = HashSet64()
    copy.formUnion(reference)
    #expect(copy == mine)
    let absent = (0...UInt64(10)).first { !reference.contains($0) }!
    copy.insert(absent)
    #expect(copy != mine)
  }

  @Test func jaccardOfSortedSetsMatchesSetAlgebra() {
    var generator = SeededGenerator(seed: 65)
    // Up to 100 words (sets of more than 64 take another path), from a small vocabulary with 0
    // in it (0 marks an empty slot of the table that drops repeats) or from every hash.
    for round in 0..<1000 {
      let vocabulary: ClosedRange<UInt64> = round % 2 == 0 ? 0...40 : 0...UInt64.max
      let a = (0..<Int.random(in: 0...100, using: &generator)).map { _ in UInt64.random(in: vocabulary, using: &generator) }
      let b = (0..<Int.random(in: 0...100, using: &generator)).map { _ in UInt64.random(in: vocabulary, using: &generator) }
      let (setA, setB) = (Set(a), Set(b))
      #expect(RunStatistics.sortedUnique(a) == setA.sorted())
      let union = setA.union(setB).count
      let expected = union == 0 ? 1 : Double(setA.intersection(setB).count) / Double(union)
      #expect(RunStatistics.jaccard(RunStatistics.sortedUnique(a), RunStatistics.sortedUnique(b)) == expected)
    }
  }

  @Test func distinctAnswersAreCountedAsASetCountsThem() {
    var generator = SeededGenerator(seed: 66)
    // "é" written two ways is one answer, as String equality (and Set) has it.
    let texts = ["a", "b", "Caf\u{E9}", "Cafe\u{301}", "", "a "]
    for count in [0, 1, 2, 3, 5, 16, 17, 40] {
      for _ in 0..<50 {
        let answers = (0..<count).map { _ in texts.randomElement(using: &generator)! }
        #expect(RunStatistics.distinctCount(answers) == Set(answers).count, "\(answers)")
      }
    }
  }
}
