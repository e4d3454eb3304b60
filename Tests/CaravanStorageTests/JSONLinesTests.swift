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

  /// Group commit: a line is in the file (so a killed worker keeps it) when append returns,
  /// before its fsync, and every delay, zero included, keeps each record exactly once.
  @Test(arguments: [Duration.zero, .milliseconds(5), .seconds(60)])
  func eachLineIsWrittenBeforeAppendReturns(syncDelay: Duration) async throws {
    let path = try TestPaths.temporaryDirectory("jsonl").appendingPathComponent("r.jsonl").path
    let file = try AppendOnlyFile(path: path, intactBytes: 0, syncDelay: syncDelay)
    for index in 0..<20 {
      try await file.append(JSONValue.object(["a": .int(index)]))
      // Another process (collect, status) reads the file by path.
      #expect(try JSONLines.read(JSONValue.self, from: path).values.count == index + 1)
    }
    try await file.sync()
    #expect(try JSONLines.read(JSONValue.self, from: path).values == (0..<20).map { .object(["a": .int($0)]) })
  }
}

@Suite struct RunDirectoryPathTests {
  /// The local executor starts the job script inside the run directory, so a run named by a
  /// relative path (`caravan resume runs/x`) must be made absolute once, from where the user is.
  @Test func aRelativeRunDirectoryIsTakenFromTheCurrentDirectory() {
    let cwd = FileManager.default.currentDirectoryPath
    #expect(RunDirectory(path: "runs/x/").path == cwd + "/runs/x")
    #expect(RunDirectory(path: "/scratch/runs/./x").path == "/scratch/runs/x")
    #expect(RunDirectory(path: "runs/x").layout.script.hasPrefix("/"))
  }
}

@Suite struct WriteFailureTests {
  @Test func foundationsOutOfSpaceErrorBecomesAPlainMessage() {
    let posix = NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))
    let cocoa = NSError(domain: NSCocoaErrorDomain, code: NSFileWriteOutOfSpaceError, userInfo: [NSUnderlyingErrorKey: posix])
    let failure = WriteFailure(path: "/run/results.jsonl", error: cocoa)
    #expect(failure.isOutOfSpace)
    #expect(failure.description == "cannot write /run/results.jsonl: No space left on device (the file system is full, or your quota is used up)")
    #expect(!WriteFailure(path: "/x", error: NSError(domain: NSPOSIXErrorDomain, code: Int(EACCES))).isOutOfSpace)
  }
}

@Suite struct NumpyMatrixWriterTests {
  /// NumPy's format 1.0: magic, version, a header padded so the data starts at 128, then
  /// little-endian float32 rows; rows without a vector before the first one are NaN.
  @Test func writesANpyFileRowByRow() throws {
    let dir = try TestPaths.temporaryDirectory("npy")
    let path = dir.appendingPathComponent("m.npy").path
    let writer = try NumpyMatrixWriter(path: path)
    try writer.append(nil)
    try writer.append([1, -2.5])
    try writer.append([0.1, 3])
    #expect(throws: NumpyShapeError.self) { try writer.append([1, 2, 3]) }
    #expect(try writer.close())
    let data = try #require(FileManager.default.contents(atPath: path))
    #expect(Array(data.prefix(8)) == [0x93] + Array("NUMPY".utf8) + [1, 0])
    #expect(Int(data[8]) | Int(data[9]) << 8 == 118)
    let header = String(decoding: data[10..<128], as: UTF8.self)
    #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }") && header.hasSuffix("\n"))
    let floats = data.dropFirst(128).withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }.map { Float(bitPattern: UInt32(littleEndian: $0)) }
    #expect(floats.count == 6 && floats[0].isNaN && floats[1].isNaN)
    #expect(Array(floats[2...]) == [1, -2.5, 0.1, 3])
  }

  @Test func noVectorAtAllWritesNoFile() throws {
    let path = try TestPaths.temporaryDirectory("npy").appendingPathComponent("m.npy").path
    let writer = try NumpyMatrixWriter(path: path)
    try writer.append(nil)
    #expect(try writer.close() == false)
    #expect(!FileManager.default.fileExists(atPath: path))
  }
}
