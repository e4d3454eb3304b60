import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

@testable import CaravanStorage

@Suite struct JSONLinesTests {
  @Test func tornLastLineIsDroppedAndCutBeforeAppending() async throws {
    let dir = try TestPaths.temporaryDirectory("jsonl")
    let path = dir.appendingPathComponent("r.jsonl").path
    try "{\"a\":1}\n{\"a\":2}\n{\"a\":".write(toFile: path, atomically: true, encoding: .utf8)
    let read = try JSONLines.read(JSONValue.self, from: path)
    #expect(read.values == [.object(["a": .int(1)]), .object(["a": .int(2)])])
    let file = try AppendOnlyFile(path: path, intactBytes: read.intactBytes)
    try await file.append(JSONValue.object(["a": .int(3)]))
    #expect(try String(contentsOfFile: path, encoding: .utf8) == "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n")
  }
}
