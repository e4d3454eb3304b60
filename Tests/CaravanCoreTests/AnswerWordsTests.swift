import Testing

@testable import CaravanCore

/// The sweep statistics' word splitter: the ASCII fast path gives what the Unicode path gives.
@Suite struct AnswerWordsTests {
  @Test(arguments: ["Hello  World\tand\nMORE\r\n words ", "", "   ", "Ünïcode Wörds\u{00A0}here", "a\u{2003}B c", "ONE"])
  func fastWordsMatchTheUnicodeSplit(text: String) {
    let reference = text.split(whereSeparator: \.isWhitespace).map { $0.lowercased() }
    #expect(RunStatistics.lowercasedWords(text) == reference)
    #expect(RunStatistics.wordHashes(text) == reference.map { stableHash(String($0)) })
  }

  @Test func pairsOfWordsHashApart() {
    let words = ["the", "cat", "sat", "on", "mat"].map(stableHash)
    var pairs: Set<UInt64> = []
    for a in words { for b in words { pairs.insert(RunStatistics.pairHash(a, b)) } }
    #expect(pairs.count == 25, "(a, b) and (b, a) differ, and no two pairs collide")
  }
}
