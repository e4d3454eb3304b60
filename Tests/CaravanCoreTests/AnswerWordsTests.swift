import Testing

@testable import CaravanCore

/// The sweep statistics' word splitter: the ASCII fast path gives what the Unicode path gives.
@Suite struct AnswerWordsTests {
  @Test(arguments: [
    "Hello  World\tand\nMORE\r\n words ", "", "   ", "Ünïcode Wörds\u{00A0}here", "a\u{2003}B c", "ONE", "exactly8 chars16 ", "\u{0B}\u{0C}x\u{1C}y",
    "a b c d e f g h i j k l m n o p", "ThisIsOneWordOfMoreThanTwentyFourBytes, then\tanother.",
  ])
  func fastWordsMatchTheUnicodeSplit(text: String) {
    let reference = text.split(whereSeparator: \.isWhitespace).map { $0.lowercased() }
    #expect(RunStatistics.lowercasedWords(text) == reference)
    #expect(RunStatistics.wordHashes(text) == reference.map { RunStatistics.wordHash(String($0)) })
  }

  /// Words of every length up to 40, in any case: the hash takes capitals as small letters, and
  /// no two different words hash alike.
  @Test func wordHashesTakeCapitalsAsSmallLettersAndKeepWordsApart() {
    var generator = SeededGenerator(seed: 20261207)
    let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@[`{-'é")
    var seen: [UInt64: String] = [:]
    for _ in 0..<20000 {
      let word = String((0..<Int.random(in: 1...40, using: &generator)).map { _ in letters.randomElement(using: &generator)! })
      let hash = RunStatistics.wordHash(word)
      #expect(hash == RunStatistics.wordHash(word.lowercased()), "\(word)")
      let lowered = String(word.map { $0.isASCII ? Character($0.lowercased()) : $0 })
      if let earlier = seen[hash] { #expect(earlier == lowered, "\(earlier) and \(lowered) collide") }
      seen[hash] = lowered
    }
    // Every ASCII byte at every place of a word: separators are the ASCII whitespace.
    for byte in UInt64(0)...127 {
      let isSeparator = byte == 0x20 || (0x09...0x0D).contains(byte)
      for place in UInt64(0)..<8 {
        let mask = RunStatistics.asciiSeparators(byte << (8 * place) | (place == 0 ? 0x4100 : 0x41))
        #expect(mask == (isSeparator ? 0x80 << (8 * place) : 0), "byte \(byte) at \(place)")
      }
    }
    // Every byte: only A-Z change.
    for byte in UInt64(0)...255 {
      let expected = (0x41...0x5A).contains(byte) ? byte + 0x20 : byte
      #expect(RunStatistics.lowercasedASCII(byte << 16 | 0x4100_005A) == expected << 16 | 0x6100_007A)
    }
  }

  @Test func pairsOfWordsHashApart() {
    let words = ["the", "cat", "sat", "on", "mat"].map { RunStatistics.wordHash($0) }
    var pairs: Set<UInt64> = []
    for a in words { for b in words { pairs.insert(RunStatistics.pairHash(a, b)) } }
    #expect(pairs.count == 25, "(a, b) and (b, a) differ, and no two pairs collide")
  }
}
