import CaravanTestSupport
import Foundation
import Testing

/// `caravan init`: a first job that passes `caravan validate` as written, filled from sinfo when
/// Slurm answers, and never written over existing files.
@Suite struct InitCommandTests {
  /// A folder with a fake `sinfo` first on PATH.
  func fakeSinfo(_ script: String) throws -> String {
    let bin = try TestPaths.temporaryDirectory("init-bin")
    let path = bin.appendingPathComponent("sinfo").path
    try writeExecutable("#!/bin/sh\n" + script + "\n", to: path)
    return bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
  }

  func initCommand(_ arguments: [String], path: String) async throws -> CommandResult {
    try await runCommand(try TestPaths.binary("caravan"), ["init"] + arguments, environment: ["PATH": path])
  }

  @Test func withoutSlurmTheSpecHasAPlaceholderAndValidates() async throws {
    let dir = try TestPaths.temporaryDirectory("init").appendingPathComponent("my-first")
    let path = try fakeSinfo("echo 'sinfo: error: Could not establish a configuration source' >&2; exit 1")
    let result = try await initCommand([dir.path], path: path)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("No Slurm answered (sinfo failed (exit 1): sinfo: error: Could not establish a configuration source)"))
    #expect(result.stdout.contains("model gemma3:1b is an example"))
    let spec = try String(contentsOf: dir.appendingPathComponent("job.yaml"), encoding: .utf8)
    #expect(spec.contains("name: my-first\n"))
    #expect(spec.contains("  # partition: gpu\n"))
    let validate = try await caravan(["validate", dir.appendingPathComponent("job.yaml").path])
    #expect(validate.status == 0, "\(validate.stderr)")
    #expect(validate.stdout.contains("ok. 3 work items, 1 variants"))
  }

  @Test func sinfosPartitionsAndGPUsAreFilledInAndSaid() async throws {
    let dir = try TestPaths.temporaryDirectory("init")
    let path = try fakeSinfo("printf 'cpu|(null)\\ngpu*|gpu:a100:4(S:0-1)\\n'")
    let result = try await initCommand([dir.path], path: path)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("From sinfo: partitions cpu, gpu*; using gpu with gpus_per_node 1 (its nodes have gpu:a100:4)."))
    let spec = try String(contentsOf: dir.appendingPathComponent("job.yaml"), encoding: .utf8)
    #expect(spec.contains("\n  partition: gpu\n"))
    let validate = try await caravan(["validate", dir.appendingPathComponent("job.yaml").path])
    #expect(validate.status == 0, "\(validate.stderr)")
  }

  @Test func aHangingSinfoIsGivenUpAfterTenSeconds() async throws {
    let dir = try TestPaths.temporaryDirectory("init")
    // `exec`: the killed pid is the sleep itself, so nothing is left behind.
    let path = try fakeSinfo("exec sleep 60")
    let start = Date()
    let result = try await initCommand([dir.path], path: path)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("No Slurm answered (sinfo gave no answer within 10 s)"))
    #expect(Date().timeIntervalSince(start) < 30)
    #expect(try await caravan(["validate", dir.appendingPathComponent("job.yaml").path]).status == 0)
  }

  @Test func existingFilesAreNotOverwritten() async throws {
    let dir = try TestPaths.temporaryDirectory("init")
    let mine = dir.appendingPathComponent("prompts.jsonl")
    try "{\"id\": \"mine\", \"prompt\": \"keep me\"}\n".write(to: mine, atomically: true, encoding: .utf8)
    let result = try await initCommand([dir.path], path: try fakeSinfo("exit 1"))
    #expect(result.status == 64)
    #expect(result.stderr.contains("\(mine.path) already exists; caravan init overwrites nothing"))
    #expect(try String(contentsOf: mine, encoding: .utf8) == "{\"id\": \"mine\", \"prompt\": \"keep me\"}\n")
    #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("job.yaml").path))
  }

  @Test(.enabled(if: slurmConf != nil, "needs the local Slurm cluster: eval \"$(scripts/local-cluster.sh start)\""))
  func onTheLocalClusterItNamesItsPartitionAndValidates() async throws {
    let dir = try TestPaths.temporaryDirectory("init")
    let result = try await caravan(["init", dir.path])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("From sinfo: partitions debug*; using debug with gpus_per_node 1 (its nodes have gpu:2)."))
    let validate = try await caravan(["validate", dir.appendingPathComponent("job.yaml").path])
    #expect(validate.status == 0, "\(validate.stderr)")
  }
}

/// The command line from a user's side: a typo gets a suggestion, help reads as prose.
@Suite struct CommandLineTests {
  @Test func aMistypedSubcommandGetsDidYouMeanAndExits64() async throws {
    let result = try await caravan(["sumbit", "job.yaml"])
    #expect(result.status == 64)
    #expect(result.stderr.contains("'sumbit' is not a caravan command; did you mean 'submit'?"))
    let nested = try await caravan(["models", "lsit"])
    #expect(nested.status == 64)
    #expect(nested.stderr.contains("did you mean 'list'?"))
    let unknown = try await caravan(["frobnicate"])
    #expect(unknown.status == 64)
    #expect(unknown.stderr.contains("the commands are init, submit, validate"))
  }

  /// ArgumentParser wraps help to lines under 80 columns when not on a terminal; a newline inside an
  /// abstract or a discussion survives as a line that the next word would still have fitted on.
  @Test(arguments: ["init", "submit", "validate", "status", "cancel", "collect", "resume", "diff", "container def", "container build", "models pull", "models list", "sampling", "worker", "wait-ready", "free-port"])
  func helpIsNotHardWrappedMidSentence(_ command: String) async throws {
    let result = try await caravan(["help"] + command.split(separator: " ").map(String.init))
    #expect(result.status == 0)
    let overview = result.stdout.components(separatedBy: "USAGE:")[0].split(separator: "\n", omittingEmptySubsequences: false)
    for (line, next) in zip(overview, overview.dropFirst()) where !line.isEmpty && !next.isEmpty {
      let word = next.split(separator: " ").first ?? ""
      #expect(line.count + 1 + word.count >= 80, "caravan help \(command): '\(line)' is cut before '\(next)'")
    }
  }
}
