import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

import CaravanStorage

@testable import CaravanRun

@Suite struct CollectorTests {
  /// A run of 2 prompts × 1 variant × 2 repeats in 2 shards, with results written by hand.
  func run() throws -> (RunDirectory, [WorkItem]) {
    let spec = smallSpec.replacingOccurrences(of: "repeats: 2", with: "repeats: 2\nslurm: {shards: 2}")
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
    let prepared = try prepareRun(spec: spec, prompts: "{\"id\": \"a\", \"prompt\": \"x\"}\n{\"id\": \"b\", \"prompt\": \"y\"}\n")
    return (prepared.run, prepared.plan.items)
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

  @Test func planOrderLastRecordWinsAndRepeatsAreCounted() throws {
    let (run, items) = try run()
    #expect(items.count == 4)
    // Shard 0 written out of order, with a retried error; shard 1 ends in a torn line.
    try write([record(items[1], .ok, "b1"), record(items[0], .error), record(items[0], .ok, "retried")], shard: 0, in: run)
    try write([record(items[3], .ok, "d"), record(items[2], .ok, "c")], shard: 1, in: run, torn: "{\"seq\":2,\"id\":")
    let report = try Collector.collect(run)
    #expect(report.complete && report.recorded == 4 && report.ok == 4 && report.errors == 0 && report.unexpected == 0)
    let records = try merged(run)
    #expect(records.map(\.seq) == [0, 1, 2, 3])
    #expect(records[0].response == "retried")
    #expect(report.repeated == [.init(key: items[0].key, records: 2)])
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

  @Test func openAIFormatHasOneCustomIDPerLine() throws {
    let (run, items) = try run()
    try write([record(items[0], .ok, "hello"), record(items[1], .error)], shard: 0, in: run)
    _ = try Collector.collect(run, format: .openai)
    let lines = try String(contentsOfFile: run.layout.mergedResults, encoding: .utf8).split(separator: "\n").map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
    #expect(lines.count == 2)
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
}
