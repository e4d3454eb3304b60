import CaravanTestSupport
import Foundation
import Testing

@Suite struct ContainerCommandTests {
  @Test func defCommandWritesTheCheckedInDefinitionAndChecksIt() async throws {
    let dir = try TestPaths.temporaryDirectory("def")
    let out = dir.appendingPathComponent("ollama.def")
    let written = try await caravan(["container", "def", "--out", out.path])
    #expect(written.status == 0, "\(written.stderr)")
    let checkedIn = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent("apptainer/ollama.def"), encoding: .utf8)
    #expect(try String(contentsOf: out, encoding: .utf8) == checkedIn)
    #expect(try await caravan(["container", "def", "--check", out.path]).stdout.contains("ok"))

    let other = try await caravan(["container", "def", "--ollama-version", "0.9.0"])
    #expect(other.stdout.contains("From: ollama/ollama:0.9.0"))

    try "Bootstrap: docker\n%post\n  true\n%post\n".write(to: out, atomically: true, encoding: .utf8)
    let bad = try await caravan(["container", "def", "--check", out.path])
    #expect(bad.status == 64)
    #expect(bad.stderr.contains("ollama.def:2: stage 1 has Bootstrap but no From:"), "\(bad.stderr)")
    #expect(bad.stderr.contains("ollama.def:4: %post appears twice"))
  }

  @Test func buildWithoutApptainerSaysHowToGetIt() async throws {
    let result = try await runCommand(try TestPaths.binary("caravan"), ["container", "build"], in: TestPaths.packageRoot, environment: ["PATH": "/usr/bin:/bin"])
    #expect(result.status == 1)
    #expect(result.stderr.contains("apptainer is not on PATH"), "\(result.stderr)")
    #expect(result.stderr.contains("module load apptainer"))
  }

  @Test func buildRunsApptainerWithCacheOnScratchAndTheCommitLabel() async throws {
    let dir = try TestPaths.temporaryDirectory("build")
    let bin = dir.appendingPathComponent("bin")
    try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
    let record = dir.appendingPathComponent("apptainer-call")
    try """
      #!/bin/bash
      { printf '%s\\n' "$@"; echo "CACHE=$APPTAINER_CACHEDIR"; echo "TMP=$APPTAINER_TMPDIR"; } > '\(record.path)'
      """.write(to: bin.appendingPathComponent("apptainer"), atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin.appendingPathComponent("apptainer").path)
    let scratch = dir.appendingPathComponent("scratch")
    let result = try await runCommand(try TestPaths.binary("caravan"), ["container", "build", "--sif", dir.appendingPathComponent("o.sif").path, "--scratch", scratch.path], in: TestPaths.packageRoot, environment: ["PATH": bin.path + ":/usr/bin:/bin"])
    #expect(result.status == 0, "\(result.stderr)")
    let call = try String(contentsOf: record, encoding: .utf8).split(separator: "\n").map(String.init)
    #expect(call.first == "build")
    #expect(call.contains("--build-arg"))
    #expect(call.contains { $0.hasPrefix("commit=") && $0 != "commit=unknown" }, "\(call)")
    #expect(call.contains("apptainer/ollama.def"))
    #expect(call.contains("CACHE=\(scratch.path)/apptainer-cache"))
    #expect(call.contains("TMP=\(scratch.path)/apptainer-tmp"))
    #expect(FileManager.default.fileExists(atPath: scratch.path + "/apptainer-cache"))
  }
}
