import CaravanTestSupport
import Foundation
import Testing

/// The golden-file helper every snapshot test relies on: a mismatch fails with a diff, and a run
/// that re-records fails too, so CARAVAN_RECORD_SNAPSHOTS=1 left set in a shell or CI cannot
/// turn every snapshot test green without comparing anything.
@Suite struct GoldenFileTests {
  @Test func recordingWritesTheFileAndStillFails() throws {
    let golden = try TestPaths.temporaryDirectory("golden").appendingPathComponent("Snapshots/new.golden")
    let mismatch = try goldenMismatch("line 1\nline 2\n", golden: golden, recording: true)
    #expect(mismatch == "recorded \(golden.path); run again without CARAVAN_RECORD_SNAPSHOTS")
    #expect(try String(contentsOf: golden, encoding: .utf8) == "line 1\nline 2\n")
    // The next run, without recording, compares against what was written.
    #expect(try goldenMismatch("line 1\nline 2\n", golden: golden, recording: false) == nil)
  }

  @Test func aDifferenceIsReportedLineByLine() throws {
    let golden = try TestPaths.temporaryDirectory("golden").appendingPathComponent("a.golden")
    try "same\nold\n".write(to: golden, atomically: true, encoding: .utf8)
    let mismatch = try #require(try goldenMismatch("same\nnew\n", golden: golden, recording: false))
    #expect(mismatch.contains("a.golden differs (- golden, + actual)"))
    #expect(mismatch.contains("-2: old\n+2: new"))
    #expect(!mismatch.contains("same"))
  }

  @Test func aMissingGoldenFails() throws {
    let golden = try TestPaths.temporaryDirectory("golden").appendingPathComponent("absent.golden")
    let mismatch = try goldenMismatch("text\n", golden: golden, recording: false)
    #expect(mismatch == "golden file \(golden.path) is missing; record it with CARAVAN_RECORD_SNAPSHOTS=1")
    #expect(!FileManager.default.fileExists(atPath: golden.path), "comparing never writes")
  }
}
