#if LibSlurm
  import CaravanCore
  import CaravanRender
  import CaravanTestSupport
  import Foundation
  import Testing

  @testable import CaravanSlurm

  /// LibSlurm against the local cluster (`eval "$(scripts/local-cluster.sh start)"`): errors with
  /// their advice, job state and cancel, and a job that behaves as the sbatch one does.
  @Suite(.enabled(if: ProcessInfo.processInfo.environment["SLURM_CONF"] != nil, "needs the local Slurm cluster (SLURM_CONF)"), .serialized)
  struct LibSlurmClusterTests {
    /// A one-task job in a fresh run directory; `body` is the script after its #SBATCH lines.
    func job(_ label: String, configure: (inout JobSpec.Slurm) -> Void = { _ in }) throws -> BatchJob {
      let dir = try TestPaths.temporaryDirectory(label)
      try FileManager.default.createDirectory(at: dir.appendingPathComponent("logs"), withIntermediateDirectories: true)
      var spec = JobSpec(name: label, model: "m", prompts: "p.jsonl")
      spec.slurm.time = "5"
      spec.slurm.mem = "100M"
      configure(&spec.slurm)
      return BatchJob(spec: spec, runDir: dir.path, shardCount: spec.slurm.shards, caravan: "/bin/true", engineCommand: "true", origin: "test")
    }

    /// Writes the script as the renderer does: #SBATCH lines first (for sbatch), then `body`.
    func script(for job: BatchJob, body: String) throws -> String {
      var lines = ["#!/bin/bash"]
      lines += job.directives.map { "#SBATCH \($0.option)" + ($0.value.map { "=\($0)" } ?? "") }
      lines += job.slurm.extra.map { "#SBATCH \($0)" }
      let path = job.runDir + "/job.sbatch"
      try (lines.joined(separator: "\n") + "\n" + body).write(toFile: path, atomically: true, encoding: .utf8)
      return path
    }

    static let finished: Set<String> = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED"]

    /// Polls libslurm until every task of the job has finished; returns the last state.
    func waitUntilFinished(_ id: String, timeout: Duration = .seconds(180)) async throws -> SlurmJobState {
      let deadline = ContinuousClock.now + timeout
      while true {
        let state = try await LibSlurm().jobState(jobID: id)
        if !state.tasks.isEmpty, state.tasks.allSatisfy({ Self.finished.contains($0.state) }) { return state }
        guard ContinuousClock.now < deadline else { throw TestSupportError("job \(id) still not finished: \(state.tasks.map(\.state))") }
        try await Task.sleep(for: .milliseconds(500))
      }
    }

    @Test func aBogusPartitionIsRefusedWithTheRealPartitions() async throws {
      let job = try job("bogus-partition") { $0.partition = "nosuch" }
      let path = try script(for: job, body: "true\n")
      let error = await #expect(throws: SlurmError.self) { try await LibSlurm().submit(job, scriptPath: path) }
      #expect(error?.code == SlurmError.invalidPartition)
      #expect(error?.message == "Invalid partition name specified")
      #expect(error?.advice?.contains("'nosuch' is not a partition of this cluster. The partitions are: debug (default).") == true, "\(error?.advice ?? "")")
    }

    @Test func moreGPUsThanANodeHasShowsTheNodesGRES() async throws {
      let job = try job("three-gpus") { $0.gpusPerNode = 3 }
      let path = try script(for: job, body: "true\n")
      let error = await #expect(throws: SlurmError.self) { try await LibSlurm().submit(job, scriptPath: path) }
      #expect(error?.code == SlurmError.nodeConfigurationUnavailable)
      let advice = error?.advice ?? ""
      #expect(advice.contains("asks for gpu:3"), "\(advice)")
      #expect(advice.contains("n1: gpu:2, 4 CPUs, 2000 MB") && advice.contains("n2: gpu:2, 4 CPUs, 2000 MB"), "\(advice)")
    }

    @Test func aHeldArrayIsReportedPendingAndCancelledWhole() async throws {
      let job = try job("held-array") {
        $0.shards = 3
        $0.extra = ["--hold"]
      }
      let path = try script(for: job, body: "true\n")
      let slurm = LibSlurm()
      let id = try await slurm.submit(job, scriptPath: path)
      let pending = try await slurm.jobState(jobID: id)
      #expect(pending.tasks.count == 1)
      let record = try #require(pending.tasks.first)
      #expect(record.state == "PENDING" && record.reason == "JobHeldUser", "\(record)")
      #expect(record.arrayJobID == Int(id) && record.arrayTaskID == nil && record.pendingArrayTasks == "0-2", "\(record)")

      try await slurm.cancel(jobID: id)
      let cancelled = try await waitUntilFinished(id, timeout: .seconds(30))
      #expect(cancelled.tasks.allSatisfy { $0.state == "CANCELLED" }, "\(cancelled.tasks)")
      #expect(try await runCommand("squeue", ["-h", "-j", id, "-o", "%i %T"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    @Test func beginIsReadByLibslurmsOwnTimeParser() async throws {
      let later = try job("begin-later") { $0.extra = ["--begin=now+1hour"] }
      let slurm = LibSlurm()
      let id = try await slurm.submit(later, scriptPath: try script(for: later, body: "true\n"))
      defer { Task { _ = try? await runCommand("scancel", [id]) } }
      let record = try await runCommand("scontrol", ["show", "job", "-o", id]).stdout
      let eligible = try #require(record.split(separator: " ").first { $0.hasPrefix("EligibleTime=") }?.dropFirst("EligibleTime=".count))
      let formatter = DateFormatter()
      formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
      let when = try #require(formatter.date(from: String(eligible)), "\(record)")
      #expect(abs(when.timeIntervalSinceNow - 3600) < 120, "\(record)")

      let never = try job("begin-never") { $0.extra = ["--begin=whenever"] }
      let refusal = await #expect(throws: (any Error).self) { try await slurm.submit(never, scriptPath: try script(for: never, body: "true\n")) }
      let text = refusal.map { "\($0)" } ?? ""
      #expect(text.contains("--begin 'whenever' is not a time Slurm can read"), "\(text)")
    }

    @Test func anUnknownJobSaysSlurmctldForgetsFinishedJobs() async throws {
      let error = await #expect(throws: SlurmError.self) { try await LibSlurm().jobState(jobID: "67000000") }
      #expect(error?.code == SlurmError.invalidJobID)
      #expect(error?.advice?.contains("MinJobAge") == true, "\(error?.advice ?? "")")
    }

    /// What the job script sees: when TERM came, how stdout was opened, where it runs, its environment.
    static let probe = #"""
      out="$PWD/probe.txt"
      start=$(date +%s)
      trap 'echo "term_after=$(( $(date +%s) - start ))" >> "$out"; exit 0' TERM
      echo "stdout_flags=$(awk '/^flags/ {print $2}' /proc/$$/fdinfo/1)" >> "$out"
      echo "pwd=$PWD" >> "$out"
      env | sort > "$PWD/env.txt"
      echo "probe on ${SLURMD_NODENAME:-?}"
      for _ in $(seq 240); do sleep 0.5; done
      echo "no_term" >> "$out"

      """#

    func readProbe(_ job: BatchJob) throws -> (values: [String: String], environment: [String: String]) {
      func pairs(_ file: String) throws -> [String: String] {
        let text = try String(contentsOfFile: job.runDir + "/" + file, encoding: .utf8)
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") {
          let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
          if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
        }
        return result
      }
      return (try pairs("probe.txt"), try pairs("env.txt"))
    }

    /// The signal, open mode, working directory, resources and environment are the same whether
    /// the job went through libslurm or sbatch. 22.05's scontrol shows neither the --signal nor the
    /// --open-mode of a job (and job_info_t has no field for them), so the job itself reports them.
    @Test func theLibslurmJobBehavesAsTheSbatchJob() async throws {
      // Time limit 1 minute, TERM 50 s before it: TERM comes 10-40 s after the start (slurmctld
      // checks every 30 s). Without B: the batch shell would get no TERM at all.
      func make(_ label: String) throws -> (BatchJob, String) {
        let job = try job(label) {
          $0.time = "1"
          $0.grace = 50
          $0.cpusPerTask = 2
          $0.mem = "500M"
          $0.gpusPerNode = 1
        }
        return (job, try script(for: job, body: Self.probe))
      }
      let (viaLibslurm, libslurmScript) = try make("probe-libslurm")
      let (viaSbatch, sbatchScript) = try make("probe-sbatch")
      let libslurmID = try await LibSlurm().submit(viaLibslurm, scriptPath: libslurmScript)
      let sbatchID = try await SlurmCLI().submit(viaSbatch, scriptPath: sbatchScript)
      let libslurmEnd = try await waitUntilFinished(libslurmID, timeout: .seconds(150))
      let sbatchEnd = try await waitUntilFinished(sbatchID, timeout: .seconds(150))

      for (job, id, end) in [(viaLibslurm, libslurmID, libslurmEnd), (viaSbatch, sbatchID, sbatchEnd)] {
        #expect(end.tasks.map(\.state) == ["COMPLETED"], "\(job.name): \(end.tasks)")
        #expect(end.tasks.first?.exitCode == 0 && end.tasks.first?.arrayTaskID == 0)
        let (values, environment) = try readProbe(job)
        let term = try #require(values["term_after"].flatMap { Int($0) }, "\(job.name): no TERM before the time limit: \(values)")
        #expect(term < 55, "\(job.name): TERM after \(term) s")
        // --open-mode=append: the batch step opened stdout with O_APPEND (octal 02000).
        let flags = try #require(values["stdout_flags"].flatMap { Int($0, radix: 8) })
        #expect(flags & 0o2000 != 0, "\(job.name): stdout flags \(values["stdout_flags"] ?? "")")
        #expect(values["pwd"] == job.runDir)
        // --output's %A_%a was expanded by Slurm.
        #expect(FileManager.default.fileExists(atPath: "\(job.runDir)/logs/slurm-\(id)_0.out"), "\(job.name)")
        #expect(environment["SLURM_CPUS_PER_TASK"] == "2" && environment["SLURM_MEM_PER_NODE"] == "500", "\(job.name)")
        #expect(environment["SLURM_JOB_GPUS"]?.split(separator: ",").count == 1, "\(job.name)")
        #expect(environment["SLURM_OPEN_MODE"] == "a", "\(job.name)")
        #expect(environment["SLURM_SUBMIT_DIR"] == FileManager.default.currentDirectoryPath, "\(job.name)")
        #expect(environment["SLURM_JOB_NAME"] == job.name)
      }
      // The same variables reach both jobs (values differ only where they name the job).
      let libslurmNames = Set(try readProbe(viaLibslurm).environment.keys)
      let sbatchNames = Set(try readProbe(viaSbatch).environment.keys)
      #expect(libslurmNames == sbatchNames, "only libslurm: \(libslurmNames.subtracting(sbatchNames).sorted()); only sbatch: \(sbatchNames.subtracting(libslurmNames).sorted())")
    }
  }
#endif
