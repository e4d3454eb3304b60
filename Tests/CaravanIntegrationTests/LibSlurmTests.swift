#if LibSlurm
  import CaravanCore
  import CaravanTestSupport
  import Foundation
  import Testing

  /// A spec on the simulator that sets every `slurm` key that renders a directive: 4 prompts ×
  /// 1 variant × 2 repeats in 2 shards. `--hold` keeps both jobs pending until they are compared.
  func writeParityJob(in dir: URL, partition: String = "debug", extra: [String] = ["--hold", "--comment=caravan-parity"]) throws -> URL {
    let sim = try TestPaths.binary("ollama-sim")
    try """
      {"id": "a", "prompt": "What is Singapore?"}
      {"id": "b", "messages": [{"role": "user", "content": "What is a Large Language Model?"}]}
      {"id": "c", "prompt": "Write a haiku about GPUs"}
      {"id": "d", "prompt": "Write a happy birthday message."}
      """.write(to: dir.appendingPathComponent("prompts.jsonl"), atomically: true, encoding: .utf8)
    let spec = dir.appendingPathComponent("job.yaml")
    try """
      name: parity
      model: gemma:7b
      prompts: prompts.jsonl
      repeats: 2
      engine:
        kind: sim
        parallel: 2
        command: exec '\(sim)' --models gemma:7b
      slurm:
        shards: 2
        distribution: static
        partition: \(partition)
        time: "00:05:00"
        cpus_per_task: 2
        mem: 500M
        gpus_per_node: 1
        grace: 30
        extra: [\(extra.map { "\"\($0)\"" }.joined(separator: ", "))]
      container:
        runtime: none
      """.write(to: spec, atomically: true, encoding: .utf8)
    return spec
  }

  @Suite(.enabled(if: slurmConf != nil, "needs the local Slurm cluster: eval \"$(scripts/local-cluster.sh start)\""), .serialized)
  struct LibSlurmSubmitTests {
    /// `scontrol show job -o ID`: one dictionary per record, with the job id and run directory
    /// replaced by placeholders so that two jobs can be compared.
    func scontrolRecords(_ id: String, runDir: String) async throws -> [[String: String]] {
      let output = try await runCommand("scontrol", ["show", "job", "-o", id])
      #expect(output.status == 0, "\(output.stderr)")
      return output.stdout.split(separator: "\n").map { line in
        var record: [String: String] = [:]
        for field in line.split(separator: " ") {
          let parts = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
          guard parts.count == 2 else { continue }
          // Only whole ids and the %A of output paths: a short id also occurs inside other numbers.
          let value = String(parts[1]).replacingOccurrences(of: runDir, with: "<run>").replacingOccurrences(of: "slurm-\(id)_", with: "slurm-<id>_")
          // Only the fields that hold the job's id: on a fresh cluster the id may be "1", like NumTasks.
          let idFields: Set<String> = ["JobId", "ArrayJobId"]
          record[String(parts[0])] = idFields.contains(String(parts[0])) && value == id ? "<id>" : value
        }
        return record
      }
    }

    func waitUntilGone(_ ids: [String], timeout: Duration = .seconds(240)) async throws {
      let deadline = ContinuousClock.now + timeout
      while ContinuousClock.now < deadline {
        let queue = try await runCommand("squeue", ["-h", "-j", ids.joined(separator: ","), "-o", "%i %T"])
        if queue.status != 0 || queue.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return }
        try await Task.sleep(for: .milliseconds(500))
      }
      throw TestSupportError("jobs \(ids) still queued after \(timeout)")
    }

    func submit(_ spec: URL, _ arguments: [String], environment: [String: String] = [:]) async throws -> CommandResult {
      try await runCommand(try TestPaths.binary("caravan"), ["submit", spec.path, "--json"] + arguments, environment: environment)
    }

    @Test func theSameSpecGivesTheSameJobThroughLibslurmAndSbatch() async throws {
      let dir = try TestPaths.temporaryDirectory("parity")
      let spec = try writeParityJob(in: dir)
      var submitted: [(scheduler: String, id: String, runDir: String)] = []
      defer { if !submitted.isEmpty { Task { [submitted] in _ = try? await runCommand("scancel", submitted.map(\.id)) } } }
      for scheduler in ["libslurm", "sbatch"] {
        let result = try await submit(spec, ["--scheduler", scheduler])
        #expect(result.status == 0, "\(scheduler): \(result.stderr)")
        let output = try jsonObject(result.stdout)
        let id = try #require(output["job_id"] as? String)
        let runDir = try #require(output["run_dir"] as? String)
        submitted.append((scheduler, id, runDir))
        // submission.json records which path the job took.
        let record = try jsonObject(String(contentsOfFile: runDir + "/submission.json", encoding: .utf8))
        #expect(record["scheduler"] as? String == scheduler && record["job_id"] as? String == id)
      }
      let viaLibslurm = try await scontrolRecords(submitted[0].id, runDir: submitted[0].runDir)
      let viaSbatch = try await scontrolRecords(submitted[1].id, runDir: submitted[1].runDir)
      #expect(viaLibslurm.count == 1 && viaSbatch.count == 1, "one held array record each: \(viaLibslurm) \(viaSbatch)")
      let libslurm = try #require(viaLibslurm.first)
      let sbatch = try #require(viaSbatch.first)

      // What the spec asked for, as slurmctld recorded it for the libslurm job...
      let expected = [
        "JobName": "parity", "ArrayTaskId": "0-1", "Partition": "debug", "TimeLimit": "00:05:00",
        "NumNodes": "1-1", "NumTasks": "1", "NumCPUs": "2", "CPUs/Task": "2", "MinMemoryNode": "500M",
        "TRES": "cpu=2,mem=500M,node=1,billing=2", "TresPerNode": "gres:gpu:1", "Requeue": "1",
        "StdOut": "<run>/logs/slurm-<id>_4294967294.out", "StdErr": "<run>/logs/slurm-<id>_4294967294.out",
        "WorkDir": "<run>", "Command": "<run>/job.sbatch", "Comment": "caravan-parity",
        "JobState": "PENDING", "Reason": "JobHeldUser",
      ]
      for (key, value) in expected { #expect(libslurm[key] == value, "\(key): \(libslurm[key] ?? "missing")") }
      // ...and every field scontrol shows is the same for the sbatch job, but for the times.
      let volatile: Set<String> = ["SubmitTime", "LastSchedEval", "EligibleTime", "AccrueTime", "StartTime", "EndTime"]
      for key in Set(libslurm.keys).union(sbatch.keys).subtracting(volatile).sorted() {
        #expect(libslurm[key] == sbatch[key], "\(key): libslurm \(libslurm[key] ?? "missing"), sbatch \(sbatch[key] ?? "missing")")
      }

      // Released, both run to the end and every result is there.
      for job in submitted { #expect(try await runCommand("scontrol", ["release", job.id]).status == 0) }
      try await waitUntilGone(submitted.map(\.id))
      for job in submitted {
        let collect = try await runCommand(try TestPaths.binary("caravan"), ["collect", job.runDir])
        #expect(collect.status == 0, "\(job.scheduler): \(collect.stdout)\(collect.stderr)")
        let results = try readJSONLines(job.runDir + "/results.jsonl")
        #expect(results.count == 8 && results.allSatisfy { $0["status"] == .string("ok") }, "\(job.scheduler)")
        #expect(Set(results.map { $0["shard"]!.intValue! }) == [0, 1])
        #expect(FileManager.default.fileExists(atPath: "\(job.runDir)/logs/slurm-\(job.id)_1.out"), "\(job.scheduler)")
      }
      submitted = []
    }

    @Test func aBogusPartitionIsRefusedWithTheClustersPartitions() async throws {
      let dir = try TestPaths.temporaryDirectory("bogus-partition")
      let spec = try writeParityJob(in: dir, partition: "nosuch", extra: [])
      let result = try await submit(spec, ["--scheduler", "libslurm"])
      #expect(result.status == 1)
      #expect(result.stderr.contains("error: libslurm could not submit job parity: Invalid partition name specified (Slurm error 2000)"), "\(result.stderr)")
      #expect(result.stderr.contains("'nosuch' is not a partition of this cluster. The partitions are: debug (default)."))
    }

    @Test func anOptionLibslurmCannotTakeIsRefusedWithTheWayOut() async throws {
      let dir = try TestPaths.temporaryDirectory("unmapped")
      let spec = try writeParityJob(in: dir, extra: ["--gpus-per-task=1"])
      let result = try await submit(spec, ["--scheduler", "libslurm"])
      #expect(result.status == 1)
      #expect(result.stderr.contains("slurm.extra[0] '--gpus-per-task=1': Caravan does not map this option to a libslurm job field"), "\(result.stderr)")
      #expect(result.stderr.contains("Submit with `--scheduler sbatch`"))
    }

    @Test func anUnreachableControllerNamesTheSlurmConfThatWasRead() async throws {
      let dir = try TestPaths.temporaryDirectory("no-controller")
      let spec = try writeParityJob(in: dir, extra: [])
      // The cluster's own slurm.conf, pointing at a port nothing listens on.
      let original = try String(contentsOfFile: try #require(slurmConf), encoding: .utf8)
      let port = try freePort()
      let text = original.split(separator: "\n", omittingEmptySubsequences: false).map { line in
        line.hasPrefix("SlurmctldPort=") ? "SlurmctldPort=\(port)\nMessageTimeout=2" : String(line)
      }.joined(separator: "\n")
      let conf = dir.appendingPathComponent("slurm.conf")
      try text.write(to: conf, atomically: true, encoding: .utf8)
      let started = ContinuousClock.now
      let result = try await submit(spec, ["--scheduler", "libslurm"], environment: ["SLURM_CONF": conf.path])
      #expect(result.status == 1)
      #expect(result.stderr.contains("Unable to contact slurm controller"), "\(result.stderr)")
      #expect(result.stderr.contains("No slurmctld answered. libslurm took the controller's address (SlurmctldHost, SlurmctldPort) from \(conf.path) (from SLURM_CONF)."))
      #expect(ContinuousClock.now - started < .seconds(60))
    }

    @Test func withoutASlurmConfLibslurmIsNotStartedAndSbatchIsTheDefault() async throws {
      let dir = try TestPaths.temporaryDirectory("no-conf")
      let spec = try writeParityJob(in: dir, extra: [])
      let missing = dir.appendingPathComponent("absent/slurm.conf").path
      // Forced: refused at once (slurm_init would retry for a minute and then exit the process).
      let started = ContinuousClock.now
      let forced = try await submit(spec, ["--scheduler", "libslurm"], environment: ["SLURM_CONF": missing])
      #expect(forced.status == 1)
      #expect(forced.stderr.contains("libslurm could not start: no slurm.conf at \(missing) (from SLURM_CONF)"), "\(forced.stderr)")
      #expect(forced.stderr.contains("`--scheduler sbatch`"))
      #expect(ContinuousClock.now - started < .seconds(20))
      // Automatic: sbatch is chosen, and the note says why. (A stand-in sbatch answers at once: the
      // real one would wait a minute for the missing slurm.conf.)
      let bin = dir.appendingPathComponent("bin")
      try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
      try writeExecutable("#!/bin/sh\necho 'sbatch: error: stand-in' >&2\nexit 1\n", to: bin.appendingPathComponent("sbatch").path)
      let path = bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
      let automatic = try await submit(spec, ["--executor", "slurm"], environment: ["SLURM_CONF": missing, "PATH": path])
      #expect(automatic.status == 1)
      #expect(automatic.stderr.contains("sbatch: error: stand-in"))
      #expect(automatic.stderr.contains("note: no slurm.conf at \(missing) (from SLURM_CONF), so the job goes through sbatch instead of libslurm"), "\(automatic.stderr)")
    }
  }
#endif
