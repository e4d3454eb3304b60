import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

import CaravanStorage

@testable import CaravanRun

@Suite struct CollectorTests {
  /// The merge reads `seq` and `status` from the raw line: compact as the worker writes it, with
  /// spaces as another writer may, and never from inside a text.
  @Test func seqAndStatusAreReadWithoutDecoding() {
    let lines = [
      (#"{"id":"a","response":"an \"seq\": 9, \"status\":\"error\" inside","seq":12,"status":"ok"}"#, 12, false),
      (#"{"error":"boom", "seq": 3, "status": "error"}"#, 3, true),
      (#"{"seq":0,"status":"error"}"#, 0, true),
      // Keys of the same names inside meta, options or a parsed answer are not the record's.
      (#"{"meta":{"seq":5,"status":"error"},"options":{"seq":[1]},"parsed":{"status":"error"},"seq":12,"status":"ok"}"#, 12, false),
      (#"{"meta":[{"seq":5}],"response":"a \\","seq":7,"status":"error"}"#, 7, true),
      (#"{"parsed":{"a":{"b":["}"]}},"response":"x\\\"y","seq":4,"status":"error"}"#, 4, true),
    ]
    for (line, seq, isError) in lines {
      let read = Data(line.utf8).withUnsafeBytes { ShardScan.seqAndStatus(in: $0) }
      #expect(read.seq == seq, "\(line)")
      #expect(read.isError == isError, "\(line)")
    }
    #expect(Data(#"{"seq":"7"}"#.utf8).withUnsafeBytes { ShardScan.seqAndStatus(in: $0) }.seq == nil)
    #expect(Data(#"{"seq":1234567890123456789012}"#.utf8).withUnsafeBytes { ShardScan.seqAndStatus(in: $0) }.seq == nil)
    #expect(Data(#"{"meta":{"seq":3}}"#.utf8).withUnsafeBytes { ShardScan.seqAndStatus(in: $0) }.seq == nil)
    #expect(!Data(#"{"status":"err"#.utf8).withUnsafeBytes { ShardScan.seqAndStatus(in: $0) }.isError)
  }

  /// A run of 2 prompts × 1 variant × 2 repeats in 2 shards, with results written by hand.
  func run() throws -> (RunDirectory, [WorkItem]) {
    let spec = smallSpec.replacingOccurrences(of: "repeats: 2", with: "repeats: 2\nslurm: {shards: 2, distribution: static}")
      .replacingOccurrences(of: """
        variants:
          - name: cold
            options: {temperature: 0, top_k: 3}
          - name: mf
            modelfile: |
              FROM gemma:7b
              PARAMETER temperature 0.7
              SYSTEM Be brief.
        """, with: "")
    let prompts = #"{"id": "a", "prompt": "x", "meta": {"label": "positive", "gold": [1, 2]}}"# + "\n" + #"{"id": "b", "prompt": "y"}"# + "\n"
    let prepared = try prepareRun(spec: spec, prompts: prompts)
    return (prepared.run, Array(prepared.plan.items))
  }

  func record(_ item: WorkItem, _ status: ResultRecord.Status, _ response: String? = nil) -> ResultRecord {
    var record = ResultRecord(item: item, status: status, node: "n1", shard: item.seq / 2, attempts: 1, wallMs: 10, finishedAt: "2026-01-01T00:00:00Z")
    record.response = response
    record.error = status == .error ? "HTTP 400: bad" : nil
    return record
  }

  func write(_ records: [ResultRecord], shard: Int, in run: RunDirectory, torn: String = "") throws {
    var data = Data()
    for record in records {
      data.append(try JSONLines.lineEncoder().encode(record))
      data.append(UInt8(ascii: "\n"))
    }
    data.append(Data(torn.utf8))
    try data.write(to: URL(fileURLWithPath: run.layout.resultFile(shard)))
  }

  func merged(_ run: RunDirectory) throws -> [ResultRecord] {
    try JSONLines.read(ResultRecord.self, from: run.layout.mergedResults).values
  }

  /// Dynamic distribution: a chunk taken over has a results file per generation. Collect keeps
  /// one record of each key (the newest, but never an error over an ok one), and counts the
  /// requests sent twice.
  @Test func dynamicRunsKeepOneRecordPerKeyAcrossGenerations() throws {
    let spec = smallSpec.replacingOccurrences(of: "repeats: 2", with: "repeats: 2\nslurm: {shards: 2}")
    let prepared = try prepareRun(spec: spec, prompts: #"{"id": "a", "prompt": "x"}"# + "\n")
    let run = prepared.run, items = Array(prepared.plan.items)
    let manifest = try run.manifest()
    #expect(manifest.distribution == .dynamic && manifest.taskCount == 2)
    let chunkOf = { (seq: Int) in prepared.plan.shards.firstIndex { $0.contains { $0.seq == seq } }! }
    func append(_ records: [ResultRecord], _ path: String) throws {
      var data = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
      for record in records { data.append(try JSONLines.lineEncoder().encode(record)); data.append(UInt8(ascii: "\n")) }
      try data.write(to: URL(fileURLWithPath: path))
    }
    // Item 0: ok in generation 0, and again (a slow holder's duplicate) in generation 1.
    try append([record(items[0], .ok, "first")], run.layout.resultFile(chunkOf(0), generation: 0))
    try append([record(items[0], .ok, "again")], run.layout.resultFile(chunkOf(0), generation: 1))
    // Item 1: an error in generation 0, then ok in generation 2 (generation 1 died before writing).
    try append([record(items[1], .error)], run.layout.resultFile(chunkOf(1), generation: 0))
    try append([record(items[1], .ok, "fixed")], run.layout.resultFile(chunkOf(1), generation: 2))
    // Item 2: ok in generation 0; the task that took the chunk over failed on it.
    try append([record(items[2], .ok, "kept")], run.layout.resultFile(chunkOf(2), generation: 0))
    try append([record(items[2], .error)], run.layout.resultFile(chunkOf(2), generation: 1))
    // Every other item once.
    for item in items.dropFirst(3) { try append([record(item, .ok, "x")], run.layout.resultFile(chunkOf(item.seq), generation: 0)) }
    let report = try Collector.collect(run)
    #expect(report.complete && report.ok == items.count && report.errors == 0)
    #expect(report.duplicatesSent == 2)
    let kept = try merged(run)
    #expect(kept.map(\.seq) == Array(0..<items.count))
    #expect(kept[0].response == "again" && kept[1].response == "fixed" && kept[2].response == "kept")
  }

  /// A prompt's labels may use the record's own key names: a `meta` with `seq` and `status`
  /// (and a structured answer's `status`) sit before the record's keys in its line, and collect
  /// must still find every record by its own `seq`, and keep the ok one over a later error.
  @Test func labelsNamedSeqOrStatusDoNotMisplaceRecords() throws {
    let spec = smallSpec.replacingOccurrences(of: "repeats: 2", with: "repeats: 2\nslurm: {shards: 1, distribution: static}")
    let prompts = #"{"id": "a", "prompt": "x", "meta": {"seq": 0, "status": "error"}}"# + "\n" + #"{"id": "b", "prompt": "y", "meta": {"seq": 99}}"# + "\n"
    let prepared = try prepareRun(spec: spec, prompts: prompts)
    let run = prepared.run, items = Array(prepared.plan.items)
    var records = items.reversed().map { record($0, .ok, "answer \($0.seq)") }
    // A later error for the last item must not replace its ok record.
    records.append(record(items[items.count - 1], .error))
    try write(records, shard: 0, in: run)
    let report = try Collector.collect(run)
    #expect(report.complete && report.unexpected == 0 && report.ok == items.count && report.errors == 0)
    #expect(try merged(run).map(\.response) == items.map { "answer \($0.seq)" })
  }

  @Test func planOrderLastRecordWinsAndRepeatsAreCounted() throws {
    let (run, items) = try run()
    #expect(items.count == 4)
    // Shard 0 written out of order, with a retried error; shard 1 ends in a torn line.
    try write([record(items[1], .ok, "b1"), record(items[0], .error), record(items[0], .ok, "retried")], shard: 0, in: run)
    // Item 3 was answered twice (work done twice); the later record wins.
    try write([record(items[3], .ok, "d"), record(items[2], .ok, "c"), record(items[3], .ok, "d again")], shard: 1, in: run, torn: "{\"seq\":2,\"id\":")
    let report = try Collector.collect(run)
    #expect(report.complete && report.recorded == 4 && report.ok == 4 && report.errors == 0 && report.unexpected == 0)
    let records = try merged(run)
    #expect(records.map(\.seq) == [0, 1, 2, 3])
    #expect(records[0].response == "retried" && records[3].response == "d again")
    // A retried error is expected (resume --retry-errors); a second ok record is reported.
    #expect(report.repeated == [.init(key: items[3].key, records: 2)])
  }

  @Test func missingKeysAreListedInPlanOrderAndErrorsGoToTheirOwnFile() throws {
    let (run, items) = try run()
    try write([record(items[1], .error)], shard: 0, in: run)
    try write([record(items[3], .ok, "d")], shard: 1, in: run)
    let report = try Collector.collect(run)
    #expect(!report.complete)
    #expect(report.missingCount == 2 && report.missing == [items[0].key, items[2].key])
    #expect(try merged(run).map(\.seq) == [1, 3])
    let errors = try JSONLines.read(ResultRecord.self, from: run.path + "/errors.jsonl").values
    #expect(errors.map(\.seq) == [1])
  }

  @Test func recordsThatAreNotInThePlanAreCountedNotMerged() throws {
    let (run, items) = try run()
    var foreign = record(items[0], .ok, "x")
    foreign.id = "not-planned"
    var outOfShard = record(items[3], .ok, "y")
    outOfShard.seq = 99
    try write([foreign, outOfShard, record(items[1], .ok, "b")], shard: 0, in: run)
    let report = try Collector.collect(run)
    #expect(report.unexpected == 2)
    #expect(try merged(run).map(\.seq) == [1])
  }

  func readLines(_ path: String) throws -> [JSONValue] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
  }

  /// A prompt line's `meta` reaches its records unchanged, and no other line gets one.
  @Test func promptMetaIsCopiedIntoTheRecords() throws {
    let (run, items) = try run()
    #expect(items.filter { $0.id == "a" }.allSatisfy { $0.meta?["label"] == .string("positive") })
    try write(items.map { record($0, .ok, "fine") }, shard: 0, in: run)
    _ = try Collector.collect(run)
    let merged = try readLines(run.layout.mergedResults)
    #expect(merged.filter { $0["id"] == .string("a") }.allSatisfy { $0["meta"]?["gold"] == .array([.int(1), .int(2)]) })
    #expect(merged.filter { $0["id"] == .string("b") }.allSatisfy { $0["meta"] == .null })
  }

  @Test func openAIFormatHasOneCustomIDPerLine() throws {
    let (run, items) = try run()
    try write([record(items[0], .ok, "hello"), record(items[1], .error)], shard: 0, in: run)
    _ = try Collector.collect(run, format: .openai)
    // Written beside results.jsonl, which keeps Caravan's own records.
    let lines = try readLines(run.path + "/results.openai.jsonl")
    #expect(try readLines(run.layout.mergedResults).map { $0["seq"] } == [.int(0), .int(1)])
    #expect(lines.count == 2)
    #expect(lines[0]["meta"] == .object(["label": .string("positive"), "gold": .array([.int(1), .int(2)])]))
    #expect(lines[1]["meta"] == lines[0]["meta"], "both repeats of prompt a")
    #expect(lines[0]["custom_id"] == .string("a::default::1"))
    #expect(lines[0]["response"]?["status_code"] == .int(200))
    #expect(lines[0]["response"]?["body"]?["choices"]?.arrayValue?.first?["message"]?["content"] == .string("hello"))
    #expect(lines[0]["error"] == .null)
    #expect(lines[1]["response"] == .null)
    #expect(lines[1]["error"]?["message"] == .string("HTTP 400: bad"))
  }

  /// Rewrites the run's manifest.json through `change`, as a person editing it would.
  func editManifest(_ run: RunDirectory, _ change: (inout Manifest) -> Void) throws {
    var manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: run.layout.manifest)))
    change(&manifest)
    try JSONFormats.documentEncoder().encode(manifest).write(to: URL(fileURLWithPath: run.layout.manifest))
  }

  /// A run written before duplicate variants were refused (or a manifest edited by hand) names a
  /// variant twice: collect merged it by trapping in `Dictionary(uniqueKeysWithValues:)`.
  @Test func aManifestThatNamesAVariantTwiceIsCollected() throws {
    let (run, items) = try run()
    try editManifest(run) { $0.variants.append($0.variants[0]) }
    try write([record(items[0], .ok, "a"), record(items[1], .ok, "b")], shard: 0, in: run)
    let report = try Collector.collect(run)
    #expect(report.recorded == 2 && report.ok == 2)
    #expect(report.variants.map(\.variant) == ["default"])
    #expect(report.variants.first?.ok == 2)
    let sweep = try String(contentsOfFile: run.path + "/sweep.csv", encoding: .utf8)
    #expect(sweep.split(separator: "\n").filter { $0.hasPrefix("default,") }.count == 1, "\(sweep)")
  }

  /// Counts from a damaged manifest sized collect's tables: a negative one trapped, an enormous
  /// one exhausted memory. Each is refused with what is wrong.
  @Test(arguments: [
    (-1, "shard 0 has -1 items; a count cannot be negative"),
    (1_000_000_000_000, "its shards hold 1,000,000,000,002 work items, more than the 10,000,000 caravan submit writes"),
    (7, "total_items is 4 but its shards hold 9"),
  ])
  func aDamagedShardTableIsRefused(items: Int, message: String) throws {
    let (run, _) = try run()
    try editManifest(run) { $0.shards[0].items = items }
    let error = #expect(throws: RunDirectoryError.self) { try Collector.collect(run) }
    #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
    #expect(error?.description.contains("manifest.json is damaged") == true)
    #expect(throws: RunDirectoryError.self) { try RunProgress.read(run) }
  }

  /// Records are read from files a crash can tear and a person can edit: nonsense numbers in
  /// them skew the reports at most; they never trap.
  @Test func nonsenseNumbersInRecordsDoNotTrap() throws {
    let (run, items) = try run()
    var huge = record(items[0], .ok, "a b c")
    huge.timings.evalCount = .max
    huge.timings.promptEvalCount = .max
    huge.timings.evalDuration = 1
    huge.wallMs = 1e300
    var again = record(items[1], .ok, "d e")
    again.timings.evalCount = .max
    again.timings.evalDuration = .max
    again.wallMs = -1e300
    var data = Data()
    for value in [huge, again] {
      data.append(try JSONLines.lineEncoder().encode(value))
      data.append(UInt8(ascii: "\n"))
    }
    // A seq with more digits than an Int holds, and a line that is no record.
    data.append(Data("{\"seq\":99999999999999999999999999,\"id\":\"x\"}\n{\"seq\": -5}\n".utf8))
    try data.write(to: URL(fileURLWithPath: run.layout.resultFile(0)))
    try "2026/01/01 00:00:00.000, 0, GPU-1, H200, 50, 1, 2, 100, 40\n99999999999999999/01/01 00:00:00.000, 0, GPU-1, H200, 50, 1, 2, nan, 40\n"
      .write(toFile: try telemetryFile(run), atomically: true, encoding: .utf8)
    let report = try Collector.collect(run, format: .openai)
    #expect(report.recorded == 2 && report.unexpected == 2)
    #expect(report.variants.first?.evalTokens == .max)
    #expect(try RunProgress.read(run).shards.first?.done == 2)
  }

  func telemetryFile(_ run: RunDirectory) throws -> String {
    let path = run.layout.telemetryFile(node: "n1", shard: 0)
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    return path
  }

  /// Slurm's pending-task text, expanded: only the run's shards, however wide the range.
  @Test func pendingTaskRangesAreCutToTheRunsShards() {
    #expect(RunStatus.expand("0-2,5", below: 8) == [0, 1, 2, 5])
    #expect(RunStatus.expand("[0-4294967294]%4", below: 3) == [0, 1, 2])
    #expect(RunStatus.expand("7,9", below: 8) == [7])
  }
}
