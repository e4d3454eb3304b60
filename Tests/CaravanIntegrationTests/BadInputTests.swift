import CaravanProcess
import CaravanTestSupport
import Foundation
import Testing

/// The bad-input corpus (`Tests/Fixtures/bad-inputs`, see its manifest.json): every case through
/// the built `caravan validate` and `caravan submit --dry-run`. Bad input must get exit 64 and a
/// message that names the file (and line or key), the same from both commands; never a trap (an
/// exit status of 128 or more, or "Fatal error"), a hang, or a written run directory. Prints one
/// line, `N bad inputs, N clear errors, N crashes, N submissions`; cases the manifest marks
/// open are counted in the first two and reported as known issues.
@Suite struct BadInputCorpusTests {
  struct Manifest: Decodable {
    var cases: [Case]
  }

  struct Case: Decodable, Sendable {
    var name: String
    var about: String
    /// bad, good or cli.
    var kind: String
    /// The job spec, in the case's folder.
    var spec: String?
    /// The file the message must name; the spec when not given.
    var names: String?
    /// Arguments of a cli case; `{case}` is the case's folder.
    var args: [String]?
    /// A file made at test time, too large to commit.
    var generate: String?
    /// Text the error output must contain.
    var expect: [String]
    /// Why the case is known to fail today, when it is.
    var open: String?
  }

  /// What one case came to.
  struct Verdict: Sendable {
    var crash: String?
    var submission: String?
    /// Why the error was not clear; nil when it was.
    var unclear: String?
  }

  static let corpus = TestPaths.fixtures.appendingPathComponent("bad-inputs")
  /// A command that takes longer than this has hung: counted as a crash.
  static let patience: Duration = .seconds(180)

  @Test func everyBadInputGetsAClearErrorAndNothingElse() async throws {
    let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: Self.corpus.appendingPathComponent("manifest.json")))
    let caravan = try TestPaths.binary("caravan")
    let scratch = try TestPaths.temporaryDirectory("bad-inputs")
    defer { try? FileManager.default.removeItem(at: scratch) }

    // A few at a time: each case runs two processes, some of them read 50 MB.
    var verdicts: [String: Verdict] = [:]
    try await withThrowingTaskGroup(of: (String, Verdict).self) { group in
      var pending = manifest.cases[...]
      func startNext() {
        guard let next = pending.popFirst() else { return }
        group.addTask { (next.name, try await Self.run(next, caravan: caravan, scratch: scratch)) }
      }
      for _ in 0..<3 { startNext() }
      while let (name, verdict) = try await group.next() {
        verdicts[name] = verdict
        startNext()
      }
    }

    // A case marked open (known to fail today, for a reason in another piece of work) is reported
    // as a known issue, whatever went wrong with it; every other case must be clear.
    let bad = manifest.cases.filter { $0.kind != "good" }
    let clear = bad.filter { verdicts[$0.name]?.unclear == nil }.count
    let settled = manifest.cases.filter { $0.open == nil }
    let crashes = settled.compactMap { verdicts[$0.name]?.crash }
    let submissions = settled.compactMap { verdicts[$0.name]?.submission }
    print("\(bad.count) bad inputs, \(clear) clear errors, \(crashes.count) crashes, \(submissions.count) submissions")

    #expect(bad.count >= 60)
    #expect(crashes.isEmpty, "\(crashes.joined(separator: "\n"))")
    #expect(submissions.isEmpty, "\(submissions.joined(separator: "\n"))")
    for entry in manifest.cases {
      guard let verdict = verdicts[entry.name] else { continue }
      let problems = [verdict.crash, verdict.submission, verdict.unclear].compactMap { $0 }
      if let open = entry.open {
        withKnownIssue("\(entry.name) is known to be open: \(open)", isIntermittent: true) {
          for problem in problems { Issue.record("\(entry.name) (\(entry.about)): \(problem)") }
        }
      } else if let unclear = verdict.unclear {
        Issue.record("\(entry.name) (\(entry.about)): \(unclear)")
      }
    }
  }

  /// Runs one case in a copy of its folder.
  static func run(_ entry: Case, caravan: String, scratch: URL) async throws -> Verdict {
    let folder = scratch.appendingPathComponent(entry.name)
    try FileManager.default.copyItem(at: corpus.appendingPathComponent(entry.name), to: folder)
    if let generate = entry.generate { try Self.generate(generate, in: folder) }
    let before = try listing(folder)

    var verdict = Verdict()
    var outputs: [(label: String, result: Outcome)] = []
    switch entry.kind {
    case "cli":
      let arguments = (entry.args ?? []).map { $0.replacingOccurrences(of: "{case}", with: folder.path) }
      outputs.append(("caravan \(arguments.joined(separator: " "))", try await run(caravan, arguments, in: folder)))
    default:
      let spec = entry.spec ?? "job.yaml"
      outputs.append(("validate", try await run(caravan, ["validate", spec], in: folder)))
      // A good case's dry run writes its run directory; a bad one's must not.
      outputs.append(("submit --dry-run", try await run(caravan, ["submit", "--dry-run", spec], in: folder)))
    }

    for (label, result) in outputs {
      if result.timedOut {
        verdict.crash = "\(entry.name): \(label) ran past \(patience) and was killed"
      } else if result.status >= 128 || result.status < 0 || result.stderr.contains("Fatal error") {
        verdict.crash = "\(entry.name): \(label) exited \(result.status): \(result.stderr.prefix(2000))"
      }
    }
    if entry.kind == "good" {
      let refused = outputs.filter { $0.result.status != 0 }
      if !refused.isEmpty {
        verdict.unclear = "a valid input was refused: " + refused.map { "\($0.label) exited \($0.result.status): \($0.result.stderr)" }.joined(separator: "; ")
      }
      return verdict
    }

    let after = try listing(folder)
    if after != before {
      verdict.submission = "\(entry.name): wrote \(after.subtracting(before).sorted().joined(separator: ", "))"
    }
    var reasons: [String] = []
    for (label, result) in outputs {
      if result.status != 64 { reasons.append("\(label) exited \(result.status), not 64") }
      let missing = entry.expect.filter { !result.stderr.contains($0) }
      if !missing.isEmpty { reasons.append("\(label) did not say \(missing.map { "'\($0)'" }.joined(separator: ", "))") }
      if entry.kind != "cli", !result.stderr.contains((entry.names ?? entry.spec ?? "job.yaml") + ":") {
        reasons.append("\(label) did not name \(entry.names ?? entry.spec ?? "job.yaml")")
      }
    }
    if outputs.count == 2, outputs[0].result.stderr != outputs[1].result.stderr {
      reasons.append("validate and submit --dry-run said different things")
    }
    if !reasons.isEmpty {
      verdict.unclear = reasons.joined(separator: "; ") + "\n  stderr: " + outputs.map { "\($0.label): \($0.result.stderr.prefix(1500))" }.joined(separator: "\n  ")
    }
    return verdict
  }

  /// Files too large (or too silly) to commit, made in the case's copy.
  static func generate(_ kind: String, in folder: URL) throws {
    let base = "name: bad\nmodel: gemma:7b\nprompts: prompts.jsonl\nengine: {kind: sim}\ncontainer: {runtime: none}\n"
    switch kind {
    case "prompts-50mb-line":
      var data = Data("{\"id\": \"a\", \"prompt\": \"x\"}\n{\"id\": \"b\", \"prompt\": \"".utf8)
      data.append(Data(repeating: UInt8(ascii: "x"), count: 50_000_000))
      data.append(Data("\"}\n".utf8))
      try data.write(to: folder.appendingPathComponent("prompts.jsonl"))
    case "spec-50mb-line":
      var data = Data((base + "slurm:\n  partition: ").utf8)
      data.append(Data(repeating: UInt8(ascii: "p"), count: 50_000_000))
      data.append(Data("\n".utf8))
      try data.write(to: folder.appendingPathComponent("job.yaml"))
    case "deep-nesting":
      let text = base + "variants: " + String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000) + "\n"
      try text.write(to: folder.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    default:
      throw TestSupportError("manifest.json asks for an unknown generated file '\(kind)'")
    }
  }

  /// Every path under `folder`, relative to it.
  static func listing(_ folder: URL) throws -> Set<String> {
    Set(FileManager.default.enumerator(atPath: folder.path)?.compactMap { $0 as? String } ?? [])
  }

  struct Outcome: Sendable {
    var status: Int32
    var stderr: String
    var timedOut: Bool
  }

  /// Runs a command in `directory`, killing its process group if it outlasts `patience`.
  static func run(_ executable: String, _ arguments: [String], in directory: URL) async throws -> Outcome {
    let id = UUID().uuidString
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("bad-input-out-\(id)")
    let err = FileManager.default.temporaryDirectory.appendingPathComponent("bad-input-err-\(id)")
    defer {
      try? FileManager.default.removeItem(at: out)
      try? FileManager.default.removeItem(at: err)
    }
    let outFD = open(out.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let errFD = open(err.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let pid: pid_t
    do {
      defer {
        close(outFD)
        close(errFD)
      }
      pid = try Spawn.start([executable] + arguments, environment: ProcessInfo.processInfo.environment, directory: directory.path, stdout: outFD, stderr: errFD, newSession: true)
    }
    let (status, timedOut) = await withTaskGroup(of: Int32?.self) { group -> (Int32, Bool) in
      group.addTask { await Spawn.wait(pid) }
      group.addTask {
        try? await Task.sleep(for: patience)
        return nil
      }
      var timedOut = false
      while let next = await group.next() {
        if let status = next {
          group.cancelAll()
          return (status, timedOut)
        }
        if !Task.isCancelled {
          timedOut = true
          kill(-pid, SIGKILL)
        }
      }
      return (-1, timedOut)
    }
    return Outcome(status: status, stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "", timedOut: timedOut)
  }
}
