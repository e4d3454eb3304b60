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
