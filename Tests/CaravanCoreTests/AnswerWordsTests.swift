import Testing

@testable import CaravanCore

/// The sweep statistics' word splitter: the ASCII fast path gives what the Unicode path gives.
@Suite struct AnswerWordsTests {
  @Test(arguments: ["Hello  World\tand\nMORE\r\n words ", "", "   ", "Ünïcode Wörds\u{00A0}here", "a\u{2003}B c", "ONE"])
  func fastWordsMatchTheUnicodeSplit(text: String) {
    let reference = text.split(whereSeparator: \.isWhitespace).map { $0.lowercased() }
    #expect(RunStatistics.lowercasedWords(text) == reference)
  }
}
