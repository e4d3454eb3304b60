import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

/// A run whose output file system fills up: the worker stops with a message that says so, no
/// record is torn or written twice, and a resume after space is freed completes the run.
///
/// The file system is a 200 KiB tmpfs: the run's own files fit, its 300 records do not.
@Suite(.enabled(if: geteuid() == 0, "needs root, to mount a small tmpfs"), .serialized)
struct DiskFullTests {
  @Test func aFullFileSystemStopsTheRunCleanlyAndResumeFinishesIt() async throws {
    let dir = try TestPaths.temporaryDirectory("diskfull")
    let out = dir.appendingPathComponent("out")
    try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    try mount(["-t", "tmpfs", "-o", "size=200k", "tmpfs", out.path])
    defer { _ = try? tool("/bin/umount", [out.path]) }

    let sim = try TestPaths.binary("ollama-sim")
    try (0..<300).map { #"{"id": "q\#($0)", "prompt": "question number \#($0) about something"}"# }.joined(separator: "\n")
      .write(to: dir.appendingPathComponent("p.jsonl"), atomically: true, encoding: .utf8)
    try """
      name: diskfull
      model: gemma:7b
      prompts: p.jsonl
      output: out
      executor: local
      engine:
        kind: sim
        parallel: 4
        command: exec '\(sim)' --models gemma:7b --token-ms 0.1
      slurm: {shards: 1}
      container: {runtime: none}
      """.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)

    let submit = try await caravan(["submit", "job.yaml"], in: dir)
    #expect(submit.status != 0, "the run cannot have finished: \(submit.stdout)")
    let runDir = try #require(try FileManager.default.contentsOfDirectory(atPath: out.path).first.map { out.path + "/" + $0 })
    // The user is told the file system is full and what to run, in submit's own output and in the shard's log.
    #expect(submit.stderr.contains("No space left on device"), "\(submit.stderr)")
    #expect(submit.stderr.contains("caravan resume \(runDir)"), "\(submit.stderr)")
    let log = try String(contentsOfFile: runDir + "/logs/slurm-local_0.out", encoding: .utf8)
    #expect(log.contains("No space left on device") && log.contains("caravan resume \(runDir)"), "\(log)")
    #expect(!submit.stderr.contains("NSCocoaErrorDomain") && !log.contains("NSCocoaErrorDomain"), "no Foundation error text")

    // What was written is whole: every line is a record, none torn, none twice; no half-written collect output.
    let shardText = try String(contentsOfFile: runDir + "/results/shard-0000.jsonl", encoding: .utf8)
    #expect(shardText.hasSuffix("\n"), "no torn last line")
    let written = try readJSONLines(runDir + "/results/shard-0000.jsonl")
    let writtenIDs = written.compactMap { $0["id"]?.stringValue }
    #expect(writtenIDs.count == written.count && Set(writtenIDs).count == written.count)
    #expect(written.count > 0 && written.count < 300, "the file system filled part-way: \(written.count) records")
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: runDir).filter { $0.hasSuffix(".partial") }
    #expect(leftovers.isEmpty, "\(leftovers)")

    // Space is freed; resume sends only what is missing, and every key is there once.
    try mount(["-o", "remount,size=8m", out.path])
    let resume = try await caravan(["resume", runDir])
    #expect(resume.status == 0, "\(resume.stdout)\(resume.stderr)")
    #expect(resume.stdout.contains("Resuming \(300 - written.count) items"), "\(resume.stdout)")
    let results = try readJSONLines(runDir + "/results.jsonl")
    let ids = results.compactMap { $0["id"]?.stringValue }
    #expect(ids.count == 300 && Set(ids).count == 300)
    #expect(results.allSatisfy { $0["status"] == .string("ok") })
  }

  /// mount(8) returns at once; run in place rather than through an async runner, so the
  /// `defer` that unmounts can use it too.
  private func mount(_ arguments: [String]) throws {
    try #require(tool("/bin/mount", arguments) == 0, "mount \(arguments.joined(separator: " ")) failed")
  }
}

private func tool(_ executable: String, _ arguments: [String]) throws -> Int32 {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  try process.run()
  process.waitUntilExit()
  return process.terminationStatus
}
