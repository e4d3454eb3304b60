import Foundation
import NIOCore
import Testing

@testable import CaravanOllama

@Suite struct LineSplitterTests {
  /// Lines that span chunks come out whole, once, in order; blank lines and CRs are dropped.
  @Test func linesSpanningChunksComeOutWholeAndInOrder() {
    let stream = "{\"a\":1}\n{\"b\":\r\n2}\n\n{\"c\":3}\r\n{\"d\":"
    var splitter = LineSplitter()
    var lines: [String] = []
    // Every way of cutting the stream in two gives the same lines.
    for cut in 0...stream.utf8.count {
      splitter = LineSplitter()
      lines = []
      let bytes = Array(stream.utf8)
      for part in [bytes[..<cut], bytes[cut...]] {
        lines += splitter.append(ByteBuffer(bytes: part)).map { String(decoding: $0, as: UTF8.self) }
      }
      #expect(lines == ["{\"a\":1}", "{\"b\":", "2}", "{\"c\":3}"], "cut at \(cut)")
    }
    // The unfinished last line arrives with the chunk that ends it.
    #expect(splitter.append(ByteBuffer(string: "4}\n")).map { String(decoding: $0, as: UTF8.self) } == ["{\"d\":4}"])
  }

  /// Many lines in one chunk: each is handed out once (the old splitter copied the rest per line).
  @Test func oneLargeChunkOfManyLines() {
    var splitter = LineSplitter()
    let text = (0..<20_000).map { "{\"n\":\($0)}\n" }.joined()
    let lines = splitter.append(ByteBuffer(string: text))
    #expect(lines.count == 20_000)
    #expect(String(decoding: lines[19_999], as: UTF8.self) == "{\"n\":19999}")
  }
}
