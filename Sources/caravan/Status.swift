import CaravanRun
import CaravanStorage
import ArgumentParser
import CaravanSlurm
import Foundation

extension Caravan {
  /// `caravan status`: where each shard stands, from Slurm and from the run's own records.
  struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show each array task's Slurm state with its progress (done/total, errors, tokens/s, ETA).",
      discussion: """
        Once slurmctld has forgotten a finished job, states come from sacct or the jobcomp log, then from \
        the run's own records. --watch refreshes until no shard is running or pending (redrawn on a \
        terminal, one line per refresh otherwise), then says how the run ended and exits 0 when every \
        item is ok, 3 when every item has a record but some are errors, and 2 when the job is gone \
        with work left (finish it with `caravan resume`).
        """
    )

    @Argument(help: "The run directory.")
    var runDir: String

    @Flag(help: "Refresh until no shard is running or pending; exit 0 (all ok), 3 (some errors) or 2 (work left).")
    var watch = false

    @Option(help: "Seconds between refreshes with --watch.")
    var interval: Double = 2

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
      guard interval.isFinite, interval >= 0.1, interval <= 86_400 else {
        throw ValidationError("--interval must be between 0.1 and 86400 seconds; got \(interval)")
      }
    }

    func run() async throws {
      let run = RunDirectory(path: runDir)
      let query = Schedulers.query(recorded: RunStatus.submission(run)?.scheduler)
      let terminal = isatty(STDOUT_FILENO) == 1
      var previous = ""
      var baseline: RunProgress?
      let start = Date()
      while true {
        let status: RunStatus
        do { status = try await RunStatus.read(run, query: query) } catch { throw fail("\(error)") }
        let outcome = status.outcome
        if !watch || json {
          let text = json ? Self.json(status) : Self.table(status)
          if text != previous { print(text, terminator: "") }
          previous = text
        } else if terminal {
          print("\u{1B}[H\u{1B}[2J" + Self.table(status), terminator: "")
        } else {
          // Piped or to a file: one plain line per refresh, no terminal control codes.
          if baseline == nil { baseline = status.progress }
          let clock = Self.clock.string(from: Date())
          print("\(clock) " + status.watchLine(since: baseline, elapsedSeconds: Date().timeIntervalSince(start)))
          if outcome != nil { print(Self.table(status), terminator: "") }
        }
        guard watch else { return }
        if let outcome {
          let line = status.outcomeLine(outcome)
          if json { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { print(line) }
          if outcome.exitStatus != 0 { throw ExitCode(outcome.exitStatus) }
          return
        }
        try await Task.sleep(for: .seconds(interval))
      }
    }

    /// The local time of day, to start each line of a piped watch.
    static let clock: DateFormatter = {
      let formatter = DateFormatter()
      formatter.dateFormat = "HH:mm:ss"
      return formatter
    }()

    static func json(_ status: RunStatus) -> String {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
      return String(decoding: (try? encoder.encode(status)) ?? Data(), as: UTF8.self) + "\n"
    }

    static func table(_ status: RunStatus) -> String {
      var lines = ["\(status.name): job \(status.jobID ?? "-") (\(status.scheduler ?? "not submitted")), states from \(status.source)"]
      // With dynamic distribution a row is a task and the chunks it claimed.
      let header = [status.distribution == .dynamic ? "TASK" : "SHARD", "STATE", "NODE", "DONE", "ERRORS", "TOK/S", "ETA", "NOTE"]
      var rows: [[String]] = []
      for shard in status.shards {
        let progress = shard.progress
        var note = shard.reason ?? ""
        if let exit = shard.exitCode, exit != 0 { note = "exit \(exit)" + (note.isEmpty ? "" : ", " + note) }
        if shard.restarts > 0 { note += (note.isEmpty ? "" : ", ") + "requeued \(shard.restarts)x" }
        rows.append([
          String(shard.index), shard.state, shard.node ?? "-", "\(progress.done)/\(progress.items)", String(progress.errors),
          progress.decodeTokensPerSecond.map { String(format: "%.1f", $0) } ?? "-",
          progress.etaSeconds.flatMap(\.saturatingInt).map { "\($0)s" } ?? "-", note,
        ])
      }
      let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
      for row in [header] + rows {
        lines.append(row.indices.map { $0 == row.count - 1 ? row[$0] : row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
      }
      let done = status.shards.reduce(0) { $0 + $1.progress.done }, total = status.shards.reduce(0) { $0 + $1.progress.items }
      let errors = status.shards.reduce(0) { $0 + $1.progress.errors }
      lines.append("total: \(done)/\(total) done, \(errors) errors")
      return lines.joined(separator: "\n") + "\n"
    }
  }

  /// `caravan cancel`: cancels every array task of a run's job.
  struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel a run's Slurm job (every shard). Records written so far stay; resubmitting resumes.")

    @Argument(help: "The run directory.")
    var runDir: String

    func run() async throws {
      let run = RunDirectory(path: runDir)
      guard let submission = RunStatus.submission(run) else {
        throw fail("\(runDir) has no submission.json: it was never submitted (or is not a run directory)")
      }
      guard submission.scheduler != .local else {
        throw fail("job \(submission.jobID) ran as local processes; stop it with Ctrl-C in the terminal that runs `caravan submit`")
      }
      // The run's job, and those of tasks added with `submit --add-shards`.
      for jobID in submission.jobIDs {
        do {
          try await Schedulers.query(recorded: submission.scheduler).cancel(jobID: jobID)
        } catch {
          throw fail("cannot cancel job \(jobID): \(error)")
        }
      }
      print("Cancelled job \(submission.jobID). Its records so far are kept; `caravan collect --partial \(runDir)` merges them.")
    }
  }
}
