import CaravanCore
import CaravanRender
import Foundation
import Testing

@testable import CaravanSlurm

/// A job with every `slurm.*` key set, so every directive the renderer knows is written.
func fullJob(extra: [String] = [], configure: (inout JobSpec.Slurm) -> Void = { _ in }) -> BatchJob {
  var spec = JobSpec(name: "full", model: "m", prompts: "p.jsonl")
  spec.slurm.partition = "gpu"
  spec.slurm.account = "proj1"
  spec.slurm.qos = "high"
  spec.slurm.time = "1-02:03:04"
  spec.slurm.gpusPerNode = 2
  spec.slurm.cpusPerTask = 4
  spec.slurm.mem = "1G"
  spec.slurm.grace = 120
  spec.slurm.extra = extra
  configure(&spec.slurm)
  return BatchJob(spec: spec, runDir: "/scratch/runs/full-1", shardCount: 3, caravan: "/opt/caravan", engineCommand: "ollama serve", origin: "test")
}

@Suite struct SlurmJobRequestTests {
  @Test func everyRenderedDirectiveBecomesAJobField() throws {
    let job = fullJob()
    let request = try SlurmJobRequest(job)
    #expect(request.name == "full")
    #expect(request.arrayIndices == "0-2")
    #expect(request.partition == "gpu")
    #expect(request.account == "proj1")
    #expect(request.qos == "high")
    // 1 day 2:03:04 is 1563 minutes and 4 seconds: rounded up, as libslurm's time_limit is in minutes.
    #expect(request.timeLimit == .minutes(1564))
    #expect(request.minNodes == 1 && request.maxNodes == 1)
    #expect(request.tasks == 1)
    #expect(request.tresPerNode == "gres:gpu:2")
    #expect(request.cpusPerTask == 4)
    #expect(request.memoryPerNodeMB == 1024)
    #expect(request.warning == .init(signal: SIGTERM, seconds: 120, batchShellOnly: true))
    #expect(request.requeue == true)
    #expect(request.openMode == .append)
    // %A_%a is Slurm's to expand, on the node.
    #expect(request.standardOutput == "/scratch/runs/full-1/logs/slurm-%A_%a.out")
    #expect(request.standardError == nil)
    #expect(request.workingDirectory == "/scratch/runs/full-1")
    // Nothing the renderer writes is left without a field (a new directive must be mapped).
    #expect(job.directives.allSatisfy { SlurmJobRequest.knownOptions.contains($0.option) })
  }

  @Test func aNodesLayoutAndAThrottleBecomeJobFields() throws {
    let nodes = try SlurmJobRequest(fullJob { $0.layout = .nodes })
    #expect(nodes.arrayIndices == nil)
    #expect(nodes.minNodes == 3 && nodes.maxNodes == 3 && nodes.tasks == 3 && nodes.tasksPerNode == 1)
    #expect(nodes.warning == .init(signal: SIGTERM, seconds: 120, batchShellOnly: false), "each node's step drains itself")
    #expect(nodes.standardOutput == "/scratch/runs/full-1/logs/slurm-%j.out")
    #expect(fullJob { $0.layout = .nodes }.directives.allSatisfy { SlurmJobRequest.knownOptions.contains($0.option) })
    let throttled = try SlurmJobRequest(fullJob { $0.maxRunning = 2 })
    #expect(throttled.arrayIndices == "0-2%2")
  }

  @Test func maxArraySizeIsReadFromScontrolShowConfig() {
    let text = "Configuration data as of 2026-12-03T13:00:00\nMailProg                = /usr/bin/mail\nMaxArraySize            = 1001\nMaxJobCount             = 10000\n"
    #expect(SlurmCLI.maxArraySize(inConfig: text) == 1001)
    #expect(SlurmCLI.maxArraySize(inConfig: "MaxJobCount = 5\n") == nil)
  }

  @Test func noGPUsAndNoTimeLimitAreSaidAsSbatchWouldSayThem() throws {
    let none = try SlurmJobRequest(fullJob { $0.gpusPerNode = 0; $0.time = "UNLIMITED"; $0.partition = nil; $0.mem = nil })
    #expect(none.tresPerNode == nil)
    #expect(none.timeLimit == .unlimited)
    #expect(none.partition == nil)
    #expect(none.memoryPerNodeMB == nil)
    #expect(try SlurmJobRequest(fullJob { $0.time = "30" }).timeLimit == .minutes(30))
    #expect(try SlurmJobRequest(fullJob { $0.time = "00:00:30" }).timeLimit == .minutes(1))
  }

  @Test func memorySizesFollowSbatchUnits() {
    #expect(SlurmMemory.megabytes("500") == 500)
    #expect(SlurmMemory.megabytes("500M") == 500)
    #expect(SlurmMemory.megabytes("1G") == 1024)
    #expect(SlurmMemory.megabytes("32g") == 32768)
    #expect(SlurmMemory.megabytes("2T") == 2_097_152)
    #expect(SlurmMemory.megabytes("1K") == 1)
    #expect(SlurmMemory.megabytes("1025K") == 2)
    #expect(SlurmMemory.megabytes("0") == 0)
    for bad in ["", "G", "1.5G", "12X", "-1", "1GB"] { #expect(SlurmMemory.megabytes(bad) == nil, "\(bad)") }
  }

  @Test func commonExtraOptionsAreMappedAndLaterOptionsWin() throws {
    let request = try SlurmJobRequest(
      fullJob(extra: [
        "--constraint=a100", "--exclusive", "--mail-type=END,FAIL", "--mail-user=me@example.org",
        "--comment \"two words\"", "-x n3", "--nodelist=n1", "--reservation=maint", "--dependency=afterok:12",
        "--kill-on-invalid-dep=yes", "-L matlab:1", "--wckey=w1", "--nice=5", "--hold", "--error=/tmp/e-%A.err",
        "--time=10", "-C h100", "--begin=now+1hour",
      ]))
    #expect(request.features == "h100")
    #expect(request.exclusive == .node)
    #expect(request.mailTypes == [.end, .fail])
    #expect(request.mailUser == "me@example.org")
    #expect(request.comment == "two words")
    #expect(request.excludedNodes == "n3")
    #expect(request.requiredNodes == "n1")
    #expect(request.reservation == "maint")
    #expect(request.dependency == "afterok:12")
    #expect(request.killOnInvalidDependency == true)
    #expect(request.licenses == "matlab:1")
    #expect(request.wckey == "w1")
    #expect(request.nice == 5)
    #expect(request.hold)
    #expect(request.standardError == "/tmp/e-%A.err")
    #expect(request.begin == "now+1hour")
    // sbatch reads #SBATCH lines in order and the last one wins: slurm.extra comes after the directives.
    #expect(request.timeLimit == .minutes(10))
    #expect(try SlurmJobRequest(fullJob(extra: ["--exclusive=user"])).exclusive == .user)
  }

  @Test func optionsWithoutAFieldAreRefusedTogetherWithTheWayOut() {
    let job = fullJob(extra: ["--gpus-per-task=1", "--export=NONE", "--signal=R:USR1@30", "--mail-type=SOMETIMES", "--constraint"])
    let error = #expect(throws: SchedulerError.self) { try SlurmJobRequest(job) }
    let text = error?.description ?? ""
    for part in [
      "slurm.extra[0] '--gpus-per-task=1': Caravan does not map this option",
      "slurm.extra[1] '--export=NONE'",
      "slurm.extra[2] '--signal=R:USR1@30': only the B: prefix is supported",
      "slurm.extra[3] '--mail-type=SOMETIMES': 'SOMETIMES' is not one of NONE, BEGIN",
      "slurm.extra[4] '--constraint': needs a value",
      "nothing was submitted",
      "`--scheduler sbatch`",
    ] {
      #expect(text.contains(part), "\(text)")
    }
  }

  @Test func signalSpecificationsParseLikeSbatch() throws {
    #expect(try SlurmJobRequest.warning("B:TERM@120") == .init(signal: 15, seconds: 120, batchShellOnly: true))
    #expect(try SlurmJobRequest.warning("USR1") == .init(signal: 10, seconds: 60, batchShellOnly: false))
    #expect(try SlurmJobRequest.warning("SIGUSR2@5") == .init(signal: 12, seconds: 5, batchShellOnly: false))
    #expect(try SlurmJobRequest.warning("9@10") == .init(signal: 9, seconds: 10, batchShellOnly: false))
    #expect(throws: (any Error).self) { try SlurmJobRequest.warning("B:NOPE@1") }
    #expect(throws: (any Error).self) { try SlurmJobRequest.warning("TERM@soon") }
  }

  @Test func splitReadsTheFormsSbatchAccepts() {
    #expect(SlurmJobRequest.split("--constraint=a100") == ("--constraint", "a100"))
    #expect(SlurmJobRequest.split("--constraint a100") == ("--constraint", "a100"))
    #expect(SlurmJobRequest.split("--exclusive") == ("--exclusive", nil))
    #expect(SlurmJobRequest.split("-Ca100") == ("--constraint", "a100"))
    #expect(SlurmJobRequest.split("-C a100") == ("--constraint", "a100"))
    #expect(SlurmJobRequest.split("-H") == ("--hold", nil))
    #expect(SlurmJobRequest.split("--comment=\"a b\"") == ("--comment", "a b"))
  }
}

@Suite struct SchedulerChoiceTests {
  let conf = "/site/slurm/slurm.conf"

  @Test func automaticChoiceIsLibslurmOnlyWhenBuiltInAndSlurmConfIsReadable() throws {
    let readable = try Schedulers.kind(nil, environment: ["SLURM_CONF": conf], fileIsReadable: { $0 == self.conf })
    #expect(readable.kind == (Schedulers.libslurmIsBuiltIn ? .libslurm : .sbatch))
    #expect(readable.note == nil)
    let missing = try Schedulers.kind(nil, environment: ["SLURM_CONF": conf], fileIsReadable: { _ in false })
    #expect(missing.kind == .sbatch)
    if Schedulers.libslurmIsBuiltIn {
      #expect(missing.note == "no slurm.conf at /site/slurm/slurm.conf (from SLURM_CONF), so the job goes through sbatch instead of libslurm")
    }
    // Without SLURM_CONF (or with it empty), libslurm reads /etc/slurm/slurm.conf.
    for environment in [[:], ["SLURM_CONF": ""]] {
      let fallback = try Schedulers.kind(nil, environment: environment, fileIsReadable: { $0 == "/etc/slurm/slurm.conf" })
      #expect(fallback.kind == (Schedulers.libslurmIsBuiltIn ? .libslurm : .sbatch))
    }
  }

  @Test func aForcedSchedulerIsUsedOrRefusedWithTheReason() throws {
    #expect(try Schedulers.kind(.sbatch, environment: ["SLURM_CONF": conf], fileIsReadable: { _ in true }).kind == .sbatch)
    let error = #expect(throws: (any Error).self) { try Schedulers.kind(.libslurm, environment: [:], fileIsReadable: { _ in false }) }
    let text = error.map { "\($0)" } ?? ""
    let reason = Schedulers.libslurmIsBuiltIn ? "no slurm.conf at /etc/slurm/slurm.conf (the default; SLURM_CONF is not set)" : "built without libslurm"
    #expect(text.contains(reason) && text.contains("--scheduler sbatch"), "\(text)")
  }
}

@Suite struct SlurmErrorTests {
  @Test func messagesCarryTheSlurmErrorAndTheFactsToActOn() {
    let partition = SlurmError(
      code: SlurmError.invalidPartition, message: "Invalid partition name specified", operation: "submit job e2e",
      advice: SlurmError.partitionAdvice(requested: "gpus", partitions: [.init(name: "debug", isDefault: true), .init(name: "long", isDefault: false)]))
    #expect(partition.description == """
      libslurm could not submit job e2e: Invalid partition name specified (Slurm error 2000)
      'gpus' is not a partition of this cluster. The partitions are: debug (default), long. Set slurm.partition to one of them, or leave it out to use the default.
      """)

    var request = SlurmJobRequest()
    request.tresPerNode = "gres:gpu:3"
    request.cpusPerTask = 2
    request.memoryPerNodeMB = 500
    let advice = SlurmError.resourceAdvice(request: request, nodes: [.init(name: "n1", gres: "gpu:2", cpus: 4, memoryMB: 2000), .init(name: "n2", gres: nil, cpus: 8, memoryMB: 4000)])
    #expect(advice.contains("asks for gpu:3, 2 CPUs, 500 MB on one node"))
    #expect(advice.contains("n1: gpu:2, 4 CPUs, 2000 MB; n2: no GRES, 8 CPUs, 4000 MB"))

    let controller = SlurmError.controllerAdvice(configuration: SlurmConfiguration(environment: ["SLURM_CONF": "/tmp/x/slurm.conf"]))
    #expect(controller.contains("/tmp/x/slurm.conf (from SLURM_CONF)"))
    #expect(SlurmError.controllerAdvice(configuration: SlurmConfiguration(environment: [:])).contains("/etc/slurm/slurm.conf (the default; SLURM_CONF is not set)"))
    #expect(SlurmError.isCommunicationFailure(1800) && SlurmError.isCommunicationFailure(1001) && !SlurmError.isCommunicationFailure(2000))
  }
}

@Suite struct SubmitEnvironmentTests {
  @Test func theJobGetsThisEnvironmentPlusWhatSbatchAdds() throws {
    var request = SlurmJobRequest()
    request.name = "e2e"
    request.cpusPerTask = 3
    request.openMode = .append
    let lines = SubmitEnvironment.current(for: request, base: ["PATH": "/usr/bin", "CARAVAN_X": "a=b"])
    let environment = Dictionary(uniqueKeysWithValues: lines.map { line in
      let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      return (String(parts[0]), String(parts[1]))
    })
    #expect(lines == lines.sorted())
    #expect(environment["PATH"] == "/usr/bin")
    #expect(environment["CARAVAN_X"] == "a=b")
    #expect(environment["SLURM_SUBMIT_DIR"] == FileManager.default.currentDirectoryPath)
    #expect(environment["SLURM_SUBMIT_HOST"]?.isEmpty == false)
    #expect(environment["SLURM_OPEN_MODE"] == "a")
    #expect(environment["SLURM_JOB_NAME"] == "e2e" && environment["SLURM_CPUS_PER_TASK"] == "3")
    let umask = try #require(environment["SLURM_UMASK"])
    #expect(umask.count == 4 && umask.hasPrefix("0") && umask.allSatisfy { ("0"..."7").contains($0) }, "\(umask)")
    for name in ["CPU", "NOFILE", "STACK", "CORE", "AS"] {
      #expect(environment["SLURM_RLIMIT_\(name)"].flatMap { UInt64($0) } != nil, "SLURM_RLIMIT_\(name)")
    }
    #expect(SubmitEnvironment.current(for: SlurmJobRequest(), base: [:]).allSatisfy { !$0.hasPrefix("SLURM_OPEN_MODE=") && !$0.hasPrefix("SLURM_JOB_NAME=") })
  }
}
