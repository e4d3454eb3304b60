import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

/// A finished run written by hand: 2 prompts × 4 sweep variants × 3 repeats in 2 shards, shard 0
/// on node n1 with two single-GPU servers, shard 1 on n2 with one GPU (restarted once), plus the
/// timing files and nvidia-smi telemetry the worker writes. Every number is chosen so the report's
/// values can be worked out by hand; see `ReportTests`.
enum SyntheticRun {
  static let t0 = Date(timeIntervalSince1970: 1_772_359_200)  // 2026-03-01T10:00:00Z
  static let variants = ["temperature=0.0", "temperature=0.5", "temperature=1.0", "temperature=1.5"]

  static let spec = """
    name: report
    model: gemma:7b
    prompts: prompts.jsonl
    repeats: 3
    executor: local
    engine: {kind: sim}
    sweep:
      temperature: [0.0, 0.5, 1.0, 1.5]
    slurm: {shards: 2, distribution: static}
    container: {runtime: none}
    """

  /// Plans the run with `caravan submit --dry-run`, writes records, timing and telemetry, and
  /// returns the run directory (not yet collected).
  static func make() async throws -> URL {
    let folder = try TestPaths.temporaryDirectory("report")
    try spec.write(to: folder.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    try "{\"id\": \"birthday\", \"prompt\": \"Write a birthday message\"}\n{\"id\": \"haiku\", \"prompt\": \"Write a haiku\"}\n"
      .write(to: folder.appendingPathComponent("prompts.jsonl"), atomically: true, encoding: .utf8)
    let run = folder.appendingPathComponent("run")
    let submitted = try await caravan(["submit", "--dry-run", "--json", "--run-dir", run.path, folder.appendingPathComponent("job.yaml").path])
    guard submitted.status == 0 else { throw TestSupportError("submit --dry-run failed: \(submitted.stderr)") }

    for shard in 0..<2 {
      let items = try readJSONLines(run.appendingPathComponent("shards/" + shardName(shard, "jsonl")).path)
      guard items.count == 12 else { throw TestSupportError("expected 12 items in shard \(shard), got \(items.count)") }
      var lines: [String] = []
      for (k, item) in items.enumerated() {
        let node = shard == 0 ? "n1" : "n2"
        // n1: two servers side by side, a request of 4 s every 5 s from t0+10 (busy 24 s, wall 29 s).
        // n2: one server, a request of 2 s every 3 s from t0+20 (busy 24 s, wall 35 s).
        let start = shard == 0 ? 10.0 + Double(k / 2) * 5 : 20.0 + Double(k) * 3
        let wall = shard == 0 ? 4.0 : 2.0
        let failed = shard == 1 && k == 11
        let variant = item["variant"]?.stringValue ?? ""
        let repeatNumber = item["repeat"]?.intValue ?? 0
        // Temperature 0 repeats itself; every other variant answers differently each time.
        let answer = variant == "temperature=0.0" ? "happy birthday to you my friend" : "answer \(repeatNumber) under \(variant) is different"
        var record: [String: Any] = [
          "seq": item["seq"]?.intValue ?? 0,
          "id": item["id"]?.stringValue ?? "", "variant": variant, "repeat": repeatNumber, "model": "gemma:7b", "options": [String: Any](),
          "status": failed ? "error" : "ok", "wall_ms": wall * 1000, "node": node, "shard": shard, "attempts": 1,
          "server": shard == 0 ? k % 2 : 0, "gpu": shard == 0 ? String(k % 2) : "0", "job_id": "7_\(shard)",
          "finished_at": t0.addingTimeInterval(start + wall).ISO8601Format(),
        ]
        if failed {
          record["error"] = "HTTP 500: boom"
        } else {
          record["response"] = answer
          record["prompt_eval_count"] = 10
          record["prompt_eval_duration"] = 100_000_000
          record["eval_count"] = 100
          record["eval_duration"] = 1_000_000_000
        }
        lines.append(String(decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), as: UTF8.self))
      }
      try (lines.reversed().joined(separator: "\n") + "\n").write(to: run.appendingPathComponent("results/" + shardName(shard, "jsonl")), atomically: true, encoding: .utf8)
    }

    try FileManager.default.createDirectory(at: run.appendingPathComponent("timing"), withIntermediateDirectories: true)
    try timing([
      server(shard: 0, node: "n1", index: 0, devices: "0", gpu: (0, "GPU-5eed0000-1111-2222-3333-000000000000"), readyMs: 5000, loadMs: 3000),
      server(shard: 0, node: "n1", index: 1, devices: "1", gpu: (1, "GPU-5eed0001-1111-2222-3333-000000000001"), readyMs: 7000, loadMs: 3500),
      shardLine(shard: 0, node: "n1", telemetry: "ok"),
    ]).write(to: run.appendingPathComponent("timing/shard-0000.jsonl"), atomically: true, encoding: .utf8)
    try timing([
      server(shard: 1, node: "n2", index: 0, devices: "0", gpu: (0, "GPU-5eed0000-aaaa-bbbb-cccc-000000000000"), readyMs: 6000, loadMs: 2000),
      shardLine(shard: 1, node: "n2", telemetry: "unavailable: nvidia-smi is not on PATH"),
      server(shard: 1, node: "n2", index: 0, devices: "0", gpu: (0, "GPU-5eed0000-aaaa-bbbb-cccc-000000000000"), readyMs: 8000, loadMs: 2000),
      shardLine(shard: 1, node: "n2", telemetry: "ok"),
    ]).write(to: run.appendingPathComponent("timing/shard-0001.jsonl"), atomically: true, encoding: .utf8)

    // n1: both GPUs sampled every second from t0+10 to t0+40 (30 s): 200 W and 100 W.
    var n1: [String] = []
    for second in 10...40 {
      n1.append(smi(second, index: 0, uuid: "GPU-5eed0000-1111-2222-3333-000000000000", util: "80", memory: 30000, power: "200.00"))
      n1.append(smi(second, index: 1, uuid: "GPU-5eed0001-1111-2222-3333-000000000001", util: "40", memory: 20000, power: "100.00"))
    }
    // n2: 250 W from t0+20 to t0+56 (36 s, one reading [N/A]); the sampler is then killed mid-line,
    // and after a requeue the file goes on at t0+200 (the line the torn one swallowed) to t0+203.
    var n2: [String] = []
    for second in 20...56 {
      n2.append(smi(second, index: 0, uuid: "GPU-5eed0000-aaaa-bbbb-cccc-000000000000", util: "90", memory: 50000, power: second == 30 ? "[N/A]" : "250.00"))
    }
    let torn = String(smi(57, index: 0, uuid: "GPU-5eed0000-aaaa-bbbb-cccc-000000000000", util: "90", memory: 50000, power: "250.00").prefix(30))
    n2.append(torn + smi(200, index: 0, uuid: "GPU-5eed0000-aaaa-bbbb-cccc-000000000000", util: "90", memory: 50000, power: "250.00"))
    for second in 201...203 {
      n2.append(smi(second, index: 0, uuid: "GPU-5eed0000-aaaa-bbbb-cccc-000000000000", util: "90", memory: 50000, power: "250.00"))
    }
    for (node, lines) in [("n1", n1), ("n2", n2)] {
      let folder = run.appendingPathComponent("telemetry/\(node)")
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      try (lines.joined(separator: "\n") + "\n").write(to: folder.appendingPathComponent(shardName(node == "n1" ? 0 : 1, "csv")), atomically: true, encoding: .utf8)
    }
    return run
  }

  static func shardName(_ shard: Int, _ suffix: String) -> String { String(format: "shard-%04d.", shard) + suffix }

  /// One line as the fake (and the real) nvidia-smi prints it, in the local time zone.
  static func smi(_ second: Int, index: Int, uuid: String, util: String, memory: Int, power: String) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = .current
    formatter.dateFormat = "yyyy/MM/dd HH:mm:ss.SSS"
    return "\(formatter.string(from: t0.addingTimeInterval(Double(second)))), \(index), \(uuid), NVIDIA H200, \(util), \(memory), 143771, \(power), 45"
  }

  static func server(shard: Int, node: String, index: Int, devices: String, gpu: (Int, String), readyMs: Double, loadMs: Double) -> ShardTimingEvent {
    var event = ShardTimingEvent(event: .server, shard: shard, node: node, jobId: "7_\(shard)", restartCount: 0, at: t0.ISO8601Format())
    event.server = index
    event.cudaVisibleDevices = devices
    event.gpus = [GPUInfo(index: gpu.0, uuid: gpu.1, name: "NVIDIA H200")]
    event.startedAt = t0.ISO8601Format()
    event.readyAt = t0.addingTimeInterval(readyMs / 1000).ISO8601Format()
    event.startToReadyMs = readyMs
    event.modelLoadMs = ["gemma:7b": loadMs]
    return event
  }

  static func shardLine(shard: Int, node: String, telemetry: String) -> ShardTimingEvent {
    var event = ShardTimingEvent(event: .shard, shard: shard, node: node, jobId: "7_\(shard)", restartCount: 0, at: t0.ISO8601Format())
    event.outcome = "done"
    event.telemetry = telemetry
    return event
  }

  static func timing(_ events: [ShardTimingEvent]) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return try events.map { String(decoding: try encoder.encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n"
  }

  /// Runs `caravan collect` on a fresh synthetic run and returns its directory.
  static func collected() async throws -> URL {
    let run = try await make()
    let result = try await caravan(["collect", run.path])
    // The synthetic run has one error record: complete, with errors, is exit 3.
    guard result.status == 3 else { throw TestSupportError("collect exited \(result.status), not 3: \(result.stdout)\(result.stderr)") }
    return run
  }
}

/// `timing.csv` as rows keyed by "node/gpu" ("n1/" for the node row), each a column → value map.
func timingRows(_ run: URL) throws -> (header: [String], rows: [String: [String: String]]) {
  let lines = try String(contentsOf: run.appendingPathComponent("timing.csv"), encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
  let header = lines[0]
  var rows: [String: [String: String]] = [:]
  for line in lines.dropFirst() {
    rows[line[0] + "/" + line[1]] = Dictionary(uniqueKeysWithValues: zip(header, line))
  }
  return (header, rows)
}

@Suite struct ReportTests {
  @Test func timingHasBusyTimeServerStartsAndEnergyPerNodeAndGPU() async throws {
    let run = try await SyntheticRun.collected()
    let (header, rows) = try timingRows(run)
    #expect(header == [
      "node", "gpu", "requests", "errors", "prompt_tokens", "generated_tokens", "prefill_tokens_per_s", "decode_tokens_per_s", "load_s", "request_s",
      "busy_s", "wall_s", "server_starts", "server_start_s_mean", "server_start_s_max", "model_load_s_max",
      "gpu_util_mean", "gpu_util_max", "gpu_mem_max_mib", "gpu_power_mean_w", "energy_j", "tokens_per_j",
    ])
    #expect(rows.keys.sorted() == ["n1/", "n1/0", "n1/1", "n2/", "n2/0"])
    let n1 = try #require(rows["n1/"])
    #expect(n1["requests"] == "12" && n1["errors"] == "0" && n1["prompt_tokens"] == "120" && n1["generated_tokens"] == "1200")
    #expect(n1["prefill_tokens_per_s"] == "100.000" && n1["decode_tokens_per_s"] == "100.000")
    // Six slots of 4 s, 1 s apart, two requests in each: busy 24 s of a 29 s wall.
    #expect(n1["busy_s"] == "24.000" && n1["wall_s"] == "29.000")
    #expect(n1["server_starts"] == "2" && n1["server_start_s_mean"] == "6.000" && n1["server_start_s_max"] == "7.000" && n1["model_load_s_max"] == "3.500")
    // 30 s at 200 W plus 30 s at 100 W: 9000 J for 1200 tokens.
    #expect(n1["gpu_util_mean"] == "60.000" && n1["gpu_util_max"] == "80.000" && n1["gpu_mem_max_mib"] == "30000.000" && n1["gpu_power_mean_w"] == "150.000")
    #expect(n1["energy_j"] == "9000.000" && n1["tokens_per_j"] == "0.133")

    let n2 = try #require(rows["n2/"])
    #expect(n2["requests"] == "12" && n2["errors"] == "1" && n2["generated_tokens"] == "1100")
    #expect(n2["busy_s"] == "24.000" && n2["wall_s"] == "35.000")
    #expect(n2["server_starts"] == "2" && n2["server_start_s_mean"] == "7.000" && n2["server_start_s_max"] == "8.000" && n2["model_load_s_max"] == "2.000")
    // 36 s + 2 s at 250 W; the requeue's 144 s gap and the [N/A] reading do not count as power.
    #expect(n2["energy_j"] == "9500.000" && n2["gpu_power_mean_w"] == "250.000" && n2["gpu_util_mean"] == "90.000")
    #expect(n2["tokens_per_j"] == "0.116")

    let gpu0 = try #require(rows["n1/0"]), gpu1 = try #require(rows["n1/1"])
    #expect(gpu0["requests"] == "6" && gpu0["generated_tokens"] == "600" && gpu0["busy_s"] == "24.000")
    #expect(gpu0["server_starts"] == "1" && gpu0["server_start_s_max"] == "5.000" && gpu0["model_load_s_max"] == "3.000")
    #expect(gpu0["energy_j"] == "6000.000" && gpu0["tokens_per_j"] == "0.100" && gpu0["gpu_util_mean"] == "80.000")
    #expect(gpu1["energy_j"] == "3000.000" && gpu1["tokens_per_j"] == "0.200" && gpu1["gpu_mem_max_mib"] == "20000.000")
  }

  @Test func markdownReportHasTheNodeAndGPUTables() async throws {
    let run = try await SyntheticRun.collected()
    let report = try String(contentsOf: run.appendingPathComponent("report.md"), encoding: .utf8)
    #expect(report.contains("24 of 24 work items recorded: 23 ok, 1 errors, 0 missing."))
    #expect(report.contains("## Per node") && report.contains("## Per GPU") && report.contains("## Sweep"))
    #expect(report.contains("| node | requests | errors |"))
    #expect(report.contains("| n1 | 12 | 0 | 120 | 1200 | 100.000 | 100.000 |"))
    #expect(report.contains("| 9000.000 | 0.133 |"))
    #expect(report.contains("| n1 | 1 | 6 | 0 |"))
    #expect(!report.contains("No GPU telemetry"), "shard 1's later run had telemetry")
    for variant in SyntheticRun.variants { #expect(report.contains("| \(variant) |")) }
  }

  @Test func htmlReportIsSelfContainedWithEveryChart() async throws {
    let run = try await SyntheticRun.collected()
    let page = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
    #expect(page.hasPrefix("<!DOCTYPE html>"))
    for id in ["summary", "throughput", "timeline", "gpu-util", "nodes", "sweep"] { #expect(page.contains("id=\"\(id)\""), "\(id)") }
    #expect(occurrences(of: "<tr class=\"sweep-row\"", in: page) == 4)
    #expect(occurrences(of: "<rect class=\"bar\"", in: page) == 2)
    #expect(occurrences(of: "<path class=\"concurrency\"", in: page) == 2)
    #expect(occurrences(of: "<path class=\"gpu-line\"", in: page) == 3)
    #expect(occurrences(of: "<rect class=\"server-start\"", in: page) == 4)
    #expect(page.contains("data-gpu=\"n1/1\""))
    for external in ["http://", "https://", "<script", "<link", " src=", "@import", "url("] {
      #expect(!page.contains(external), "report.html must not load anything: found \(external)")
    }
    // temperature 0 repeats itself: 1 distinct answer per prompt, an empty bar; the others 3, full.
    let cold = try #require(page.split(separator: "\n").first { $0.contains("data-variant=\"temperature=0.0\"") })
    #expect(cold.contains("<td class=\"text\">temperature=0.0</td>") && cold.contains(">1.000</td>"))
  }

  func occurrences(of needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }
}

/// The program that renders report.html headlessly: Debian's `chromium` (scripts/install-deps.sh).
let chromium: String? = (try? which("chromium")) ?? (try? which("chromium-browser"))

@Suite(.enabled(if: chromium != nil, "needs chromium on PATH (scripts/install-deps.sh installs it)"))
struct ReportBrowserTests {
  /// Where the screenshot is kept for a person to look at: .build/test-output/report/.
  static let output = TestPaths.packageRoot.appendingPathComponent(".build/test-output/report")

  func headless(_ arguments: [String], profile: URL) async throws -> CommandResult {
    try await runCommand(chromium!, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--user-data-dir=\(profile.path)"] + arguments)
  }

  /// The PNG's width and height from its IHDR chunk, or nil when the file is not a PNG.
  func pngSize(_ data: Data) -> (width: Int, height: Int)? {
    let bytes = [UInt8](data.prefix(24))
    guard bytes.count == 24, bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], bytes[12..<16] == [0x49, 0x48, 0x44, 0x52] else { return nil }
    func int(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
    return (int(16), int(20))
  }

  @Test func chromiumRendersTheReportWithEverySection() async throws {
    let run = try await SyntheticRun.collected()
    let page = run.appendingPathComponent("report.html")
    let scratch = try TestPaths.temporaryDirectory("chromium")
    defer { try? FileManager.default.removeItem(at: scratch) }

    let dom = try await headless(["--dump-dom", page.absoluteString], profile: scratch.appendingPathComponent("profile-dom"))
    #expect(dom.status == 0, "\(dom.stderr.suffix(2000))")
    let html = dom.stdout
    for id in ["throughput", "timeline", "gpu-util", "nodes", "sweep"] { #expect(html.contains("<section id=\"\(id)\">"), "\(id)") }
    #expect(html.components(separatedBy: "<tr class=\"sweep-row\"").count - 1 == 4)
    #expect(html.components(separatedBy: "<rect class=\"bar\"").count - 1 == 2)
    #expect(html.components(separatedBy: "<path class=\"gpu-line\"").count - 1 == 3)
    #expect(html.components(separatedBy: "<path class=\"concurrency\"").count - 1 == 2)
    // The browser parsed the tables as tables: the sweep rows sit in a tbody.
    #expect(html.contains("<tbody><tr class=\"sweep-row\"") || html.contains("<tbody>\n<tr class=\"sweep-row\""))

    try FileManager.default.createDirectory(at: Self.output, withIntermediateDirectories: true)
    let screenshot = Self.output.appendingPathComponent("report.png")
    try? FileManager.default.removeItem(at: screenshot)
    try? FileManager.default.removeItem(at: Self.output.appendingPathComponent("report.html"))
    try FileManager.default.copyItem(at: page, to: Self.output.appendingPathComponent("report.html"))
    let shot = try await headless(["--screenshot=\(screenshot.path)", "--window-size=1280,2400", page.absoluteString], profile: scratch.appendingPathComponent("profile-shot"))
    #expect(shot.status == 0, "\(shot.stderr.suffix(2000))")
    print("report screenshot: \(screenshot.path)")
    let png = try Data(contentsOf: screenshot)
    let size = try #require(pngSize(png), "not a PNG")
    #expect(size.width == 1280 && size.height == 2400)

    // Not blank: the same window on an empty page compresses to a fraction of the report's size.
    let blankPage = scratch.appendingPathComponent("blank.html")
    try "<!DOCTYPE html><html><body></body></html>".write(to: blankPage, atomically: true, encoding: .utf8)
    let blankShot = scratch.appendingPathComponent("blank.png")
    let blank = try await headless(["--screenshot=\(blankShot.path)", "--window-size=1280,2400", blankPage.absoluteString], profile: scratch.appendingPathComponent("profile-blank"))
    #expect(blank.status == 0)
    let blankSize = try Data(contentsOf: blankShot).count
    #expect(png.count > 4 * blankSize, "report.png is \(png.count) bytes, a blank page \(blankSize)")
  }
}
