import Foundation
import Testing

@testable import CaravanStorage

/// Collect finds each record by the offset LineReader gives it, so offsets must be exact across
/// read chunks, and a torn last line must never be handed out.
@Suite struct LineReaderTests {
  @Test(arguments: [1, 2, 3, 7, 64, 1 << 20])
  func linesAndOffsetsAreExactAcrossChunks(chunkSize: Int) throws {
    let text = "first\n\nsecond line\n\n\nthird, a little longer than the others\ntorn"
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("line-reader-\(UUID().uuidString)").path
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let lines = Array(LineReader(path: path, chunkSize: chunkSize))
    #expect(lines.map { String(decoding: $0.line, as: UTF8.self) } == ["first", "second line", "third, a little longer than the others"])
    let bytes = Array(text.utf8)
    for (offset, line) in lines {
      #expect(Array(bytes[offset..<offset + line.count]) == Array(line), "offset \(offset)")
    }
  }

  @Test func aMissingFileHasNoLines() {
    #expect(Array(LineReader(path: "/nonexistent/caravan/file")).isEmpty)
  }
}
