import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

@testable import CaravanStorage

/// What is made in a run directory after submit takes its folder's mode, whatever the umask:
/// a shared run (2750) stays group-readable and setgid all the way down, a private one (0700)
/// stays the owner's.
@Suite struct RunFileModesTests {
  func mode(_ path: String) throws -> UInt16 {
    var info = stat()
    guard stat(path, &info) == 0 else { throw TestSupportError("cannot stat \(path)") }
    return UInt16(info.st_mode & 0o7777)
  }

  @Test(arguments: [(UInt16(0o700), UInt16(0o600)), (UInt16(0o2750), UInt16(0o640))])
  func foldersAndFilesTakeTheirFoldersMode(folder: UInt16, file: UInt16) throws {
    let root = try TestPaths.temporaryDirectory("run-modes").path
    #expect(chmod(root, mode_t(folder)) == 0)
    try RunFileModes.makeFolders(root + "/telemetry/node 1")
    #expect(try mode(root + "/telemetry") == folder)
    #expect(try mode(root + "/telemetry/node 1") == folder)

    let log = root + "/telemetry/node 1/shard-0000.csv"
    let fd = RunFileModes.open(log, flags: O_WRONLY | O_APPEND)
    #expect(fd >= 0)
    close(fd)
    #expect(try mode(log) == file)

    // An atomic write makes a new file with the process's umask; fix gives it the run's mode.
    let report = root + "/report.md"
    try Data("# report\n".utf8).write(to: URL(fileURLWithPath: report), options: .atomic)
    RunFileModes.fix(report)
    #expect(try mode(report) == file)

    let records = root + "/results.jsonl"
    _ = try AppendOnlyFile(path: records, intactBytes: 0)
    #expect(try mode(records) == file)
  }
}
