import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

/// The whole path on the local cluster: a sweep of 4 variants × 3 repeats in 2 shards, one per
/// node, each shard on its node's 2 fake GPUs (so 2 servers each) with the fake nvidia-smi on
/// PATH; then `caravan collect` and the report, rendered in Chromium when it is installed.
@Suite(.enabled(if: slurmConf != nil, "needs the local Slurm cluster: eval \"$(scripts/local-cluster.sh start)\""))
struct ClusterReportTests {
  static let output = TestPaths.packageRoot.appendingPathComponent(".build/test-output/report-cluster")

  /// Two idle nodes, one for each shard (most tests' jobs are short).
  func idleNodes() async throws -> [String] {
    for _ in 0..<1200 {
      let states = try await runCommand("sinfo", ["-h", "-N", "-o", "%N %t"]).stdout.split(separator: "\n")
      let idle = states.filter { $0.hasSuffix(" idle") }.map { String($0.split(separator: " ")[0]) }
      if idle.count >= 2 { return Array(idle.prefix(2)) }
      try await Task.sleep(for: .milliseconds(500))
    }
    throw TestSupportError("two of the cluster's nodes never became idle at once")
  }

  @Test func twoNodeSweepWithTelemetryGivesTheFullReport() async throws {
    let dir = try TestPaths.temporaryDirectory("cluster-report")
    let sim = try TestPaths.binary("ollama-sim")
    try (1...4).map { #"{"id": "b\#($0)", "prompt": "Write a happy birthday message number \#($0)"}"# }.joined(separator: "\n")
      .write(to: dir.appendingPathComponent("p.jsonl"), atomically: true, encoding: .utf8)
    try """
      name: sweep
      model: gemma:7b
      prompts: p.jsonl
      repeats: 3
      engine:
        kind: sim
        parallel: 2
        telemetry_interval: 200
        command: exec '\(sim)' --models gemma:7b --token-ms 20
      sweep:
        temperature: [0.0, 0.5, 1.0, 1.5]
      slurm:
        shards: 2
        distribution: static
        gpus_per_node: 2
        extra: ["--hold"]
      container: {runtime: none}
      """.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)

    // The job inherits the submitting environment (sbatch --export=ALL), fake nvidia-smi included.
    let fakes = TestPaths.fixtures.appendingPathComponent("bin").path
    let path = fakes + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
    let submit = try await runCommand(try TestPaths.binary("caravan"), ["submit", dir.appendingPathComponent("job.yaml").path, "--executor", "slurm", "--json"], environment: ["PATH": path])
    #expect(submit.status == 0, "\(submit.stderr)")
    let object = try jsonObject(submit.stdout)
    let jobID = try #require(object["job_id"] as? String)
    let runDir = try #require(object["run_dir"] as? String)
    // Held at submit, then each shard pinned to its own node: other tests' jobs come and go, and
    // the scheduler could otherwise run both shards one after the other on one node.
    let nodes = try await idleNodes()
    for (shard, node) in nodes.enumerated() {
      let pin = try await runCommand("scontrol", ["update", "JobId=\(jobID)_\(shard)", "NodeList=\(node)"])
      #expect(pin.status == 0, "\(pin.stderr)")
    }
    #expect(try await runCommand("scontrol", ["release", jobID]).status == 0)
    for _ in 0..<600 {
      if try await runCommand("squeue", ["-h", "-j", jobID]).stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { break }
      try await Task.sleep(for: .milliseconds(500))
    }
    let collect = try await caravan(["collect", runDir])
    #expect(collect.status == 0, "\(collect.stdout)\(collect.stderr)")

    let results = try readJSONLines(runDir + "/results.jsonl")
    #expect(results.count == 48 && results.allSatisfy { $0["status"] == .string("ok") })
    #expect(Set(results.compactMap { $0["node"]?.stringValue }) == Set(nodes), "one shard per node")
    #expect(Set(results.compactMap { $0["gpu"]?.stringValue }) == ["0", "1"], "one server per GPU on each node")

    // timing.csv: a row per node and per GPU, with telemetry and energy.
    let (_, rows) = try timingRows(URL(fileURLWithPath: runDir))
    for node in nodes {
      let row = try #require(rows[node + "/"], "\(rows.keys.sorted())")
      #expect(Int(row["requests"] ?? "") == 24)
      #expect(Double(row["gpu_util_mean"] ?? "") != nil && Double(row["gpu_power_mean_w"] ?? "") != nil, "\(row)")
      #expect((Double(row["energy_j"] ?? "") ?? 0) > 0 && (Double(row["tokens_per_j"] ?? "") ?? 0) > 0, "\(row)")
      #expect(Int(row["server_starts"] ?? "") == 2)
      for gpu in ["0", "1"] {
        let gpuRow = try #require(rows[node + "/" + gpu], "\(rows.keys.sorted())")
        #expect((Int(gpuRow["requests"] ?? "") ?? 0) > 0)
      }
    }
    // The sweep: temperature 0 repeats itself, 1.5 does not.
    let sweep = try String(contentsOfFile: runDir + "/sweep.csv", encoding: .utf8).split(separator: "\n")
    #expect(sweep.count == 5)
    let report = try String(contentsOfFile: runDir + "/report.html", encoding: .utf8)
    #expect(report.components(separatedBy: "<tr class=\"sweep-row\"").count - 1 == 4)
    #expect(report.components(separatedBy: "<path class=\"gpu-line\"").count - 1 == 4, "2 nodes × 2 GPUs")
    #expect(report.components(separatedBy: "<rect class=\"bar\"").count - 1 == 2)

    // Kept for a person to look at, with a screenshot when Chromium is installed.
    try FileManager.default.createDirectory(at: Self.output, withIntermediateDirectories: true)
    for name in ["report.html", "report.md", "timing.csv", "sweep.csv"] {
      let target = Self.output.appendingPathComponent(name)
      try? FileManager.default.removeItem(at: target)
      try FileManager.default.copyItem(atPath: runDir + "/" + name, toPath: target.path)
    }
    if let chromium {
      let screenshot = Self.output.appendingPathComponent("report.png")
      try? FileManager.default.removeItem(at: screenshot)
      let shot = try await runCommand(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--user-data-dir=\(dir.path)/profile", "--screenshot=\(screenshot.path)", "--window-size=1280,2400", URL(fileURLWithPath: runDir + "/report.html").absoluteString])
      #expect(shot.status == 0, "\(shot.stderr.suffix(2000))")
      #expect(FileManager.default.fileExists(atPath: screenshot.path))
      print("cluster report screenshot: \(screenshot.path)")
    }
  }
}
