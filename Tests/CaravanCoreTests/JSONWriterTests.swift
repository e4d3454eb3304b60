import Foundation
import Testing

@testable import CaravanCore

/// The hand-written lines are byte for byte what the line encoder writes.
@Suite struct JSONWriterTests {
  struct Random {
    var generator: SeededGenerator
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &generator) }
    mutating func text() -> String {
      let pieces = ["a", "Z", " ", "\"", "\\", "/", "é", "😀", "\n", "\t", "\u{1}", "\u{7F}", "\u{2028}", "word"]
      return (0..<int(0...6)).map { _ in pieces[int(0...pieces.count - 1)] }.joined()
    }
    mutating func double() -> Double {
      switch int(0...3) {
      case 0: return Double(int(-100_000...100_000)) / 1000
      case 1: return Double(bitPattern: generator.next()).isFinite ? Double(bitPattern: generator.next() >> 2) : 0.5
      case 2: return Double(int(0...1_000_000))
      default: return generator.nextUnit() * 1e-6
      }
    }
    mutating func value(_ depth: Int = 0) -> JSONValue {
      switch int(0...(depth > 2 ? 4 : 6)) {
      case 0: return .null
      case 1: return .bool(int(0...1) == 1)
      case 2: return .int(int(Int.min...Int.max))
      case 3: return .double(double())
      case 4: return .string(text())
      case 5: return .array((0..<int(0...3)).map { _ in value(depth + 1) })
      default: return .object(Dictionary((0..<int(0...4)).map { _ in (text(), value(depth + 1)) }, uniquingKeysWith: { a, _ in a }))
      }
    }
  }

  @Test func jsonValuesAreWrittenAsTheEncoderWritesThem() throws {
    var random = Random(generator: SeededGenerator(seed: 7))
    let encoder = JSONFormats.lineEncoder()
    for _ in 0..<3000 {
      let value = random.value()
      var bytes: [UInt8] = []
      #expect(try JSONFormats.append(value, to: &bytes, encoder: encoder))
      #expect(Data(bytes) == (try encoder.encode(value)), "\(value)")
    }
    var bytes: [UInt8] = []
    #expect(try !JSONFormats.append(.double(.nan), to: &bytes, encoder: encoder))
  }

  @Test func recordsAreWrittenAsTheEncoderWritesThem() throws {
    var random = Random(generator: SeededGenerator(seed: 11))
    let encoder = JSONFormats.lineEncoder()
    var handWritten = 0
    for round in 0..<2000 {
      let item = WorkItem(
        seq: random.int(0...1_000_000), id: random.text(), variant: random.text(), repeat: random.int(1...5), model: random.text(),
        input: .prompt(random.text()), options: random.value().objectValue ?? ["temperature": .double(random.double())])
      var record = ResultRecord(
        item: item, status: round % 3 == 0 ? .error : .ok, node: random.text(), shard: random.int(0...99), attempts: random.int(1...4),
        wallMs: random.double(), finishedAt: random.text())
      if round % 2 == 0 {
        record.response = random.text()
        record.doneReason = "stop"
        record.timings.evalCount = random.int(0...4096)
        record.timings.evalDuration = random.int(0...Int.max)
        record.timings.source = .engine
        record.ttftMs = random.double()
        record.queueMs = 0
        record.server = random.int(0...7)
        record.gpu = "0"
        record.jobId = "12_3"
        record.meta = random.value()
      } else {
        record.error = random.text()
      }
      if round % 10 == 9 { record.check(format: .string("json")) }  // left to the encoder
      var bytes: [UInt8] = []
      if try record.appendLine(to: &bytes, encoder: encoder) { handWritten += 1 }
      #expect(try JSONFormats.line(record, encoder: encoder) == (try encoder.encode(record)), "\(record)")
    }
    #expect(handWritten == 1800, "every record without a structured-output check is written by hand")
  }
}
