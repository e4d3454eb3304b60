import CaravanStorage
import CaravanCore
import CaravanRender
import Foundation

/// What collect needs of a shard file's line: which item it is (making the whole `WorkItem`
/// was 6% of collect's time).
struct PlannedKey: FastJSON.Readable {
  var seq: Int
  var id: String
  var variant: String
  var `repeat`: Int
  var key: WorkKey { WorkKey(id: id, variant: variant, repeat: `repeat`) }

  static let fieldNames = FastJSON.FieldNames(["seq", "id", "variant", "repeat"])

  static func read(_ bytes: UnsafeRawBufferPointer) -> PlannedKey? {
    var line = FastJSON.Members(bytes, fieldNames)
    var seq: Int?, id: String?, variant: String?, `repeat`: Int?
    while let slot = line.next() {
      switch slot {
      case 0: seq = line.int()
      case 1: id = line.string()
      case 2: variant = line.string()
      case 3: `repeat` = line.int()
      default: guard line.skip() else { return nil }
      }
    }
    guard line.isComplete, let seq, let id, let variant, let `repeat` else { return nil }
    return PlannedKey(seq: seq, id: id, variant: variant, repeat: `repeat`)
  }
}

/// `caravan collect`: merges shard results into one file in plan order, plus summaries.
///
/// The merge streams: a shard's results files are scanned once to note where the kept record of
/// each item starts (`ShardScan`, the next shard's while this one is merged), then the records
/// are read in plan order on reading threads (`PlanOrderReads`) and counted and copied out here.
/// Memory is a few integers per item of two shards, whatever the size of the records.
public enum Collector {
  /// Output line format of `results.jsonl`.
  public enum Format: String, Sendable, CaseIterable {
    /// Caravan's own records.
    case caravan
    /// OpenAI Batch API output lines: `custom_id`, `response.body`, `error`.
    case openai
  }

  /// What the merge found.
  public struct Report: Sendable, Codable, Equatable {
    public var runID: String
    public var name: String
    public var total: Int
    public var recorded: Int
    public var ok: Int
    public var errors: Int
    public var missingCount: Int
    /// The first missing keys in plan order (at most 1000; `missingCount` has them all).
    public var missing: [WorkKey]
    /// Keys with more than one record; the newest ok one was kept (else the newest).
    public var repeated: [RepeatedKey]
    /// Records beyond one per key: requests sent twice (a chunk taken over from a task that was
    /// only slow, with dynamic distribution, or a results file copied by hand).
    public var duplicatesSent = 0
    /// Dynamic distribution: the file-system operations the task runs' claims took (listings,
    /// creates, heartbeat reads and rewrites), from the timing files; nil for a static run.
    public var claimOperations: Int?
    /// Claim operations per work item.
    public var claimOperationsPerItem: Double?
    /// Records whose key is not in the plan (a damaged or foreign results file).
    public var unexpected: Int
    public var variants: [VariantSummary]
    public var complete: Bool { missingCount == 0 }

    /// The exit status a run's commands (`submit --executor local`, `collect`) end with:
    /// 0 every item ok, 2 incomplete, 3 complete but with error records (64 is bad input).
    /// With `partialIsFine`, missing items do not count.
    public func exitStatus(partialIsFine: Bool = false) -> Int32 {
      if !complete && !partialIsFine { return 2 }
      return errors > 0 ? 3 : 0
    }

    public struct RepeatedKey: Sendable, Codable, Equatable {
      public var key: WorkKey
      public var records: Int
    }

    enum CodingKeys: String, CodingKey {
      case name, total, recorded, ok, errors, missing, repeated, unexpected, variants
      case runID = "run_id"
      case duplicatesSent = "duplicates_sent"
      case claimOperations = "claim_operations"
      case claimOperationsPerItem = "claim_operations_per_item"
      case missingCount = "missing_count"
    }
  }

  /// Per-variant counts and decode speed.
  public struct VariantSummary: Sendable, Codable, Equatable {
    public var variant: String
    public var ok: Int
    public var errors: Int
    public var evalTokens: Int
    /// Generated tokens per second of decode time, from Ollama's eval_count / eval_duration.
    public var decodeTokensPerSecond: Double?

    enum CodingKeys: String, CodingKey {
      case variant, ok, errors
      case evalTokens = "eval_tokens"
      case decodeTokensPerSecond = "decode_tokens_per_s"
    }
  }

  /// Collects a local run once its shards have finished (`failure` says why some did not). When
  /// the collect fails too, as on a full file system, the message keeps both, and says how much
  /// space is left and what to run once there is more.
  public static func collect(localRun run: RunDirectory, failure: String?) throws -> Report {
    do {
      return try collect(run)
    } catch {
      var message = [failure, "collect failed: \(error)"].compactMap { $0 }.joined(separator: "; then ")
      if let free = availableBytes(at: run.path), free < 1 << 20 {
        message += ". The file system holding \(run.path) has \(free) bytes free: free some space, then run `caravan resume \(run.path)`"
        message += " (every record written so far is intact)"
      }
      throw RunDirectoryError(message)
    }
  }

  public static func collect(_ run: RunDirectory, format: Format = .caravan) throws -> Report {
    let manifest = try run.manifest()
    var outputs: [OutputFile] = []
    // A collect that fails leaves no `.partial` file behind, and the earlier outputs as they were.
    do { return try collect(run, manifest: manifest, format: format, outputs: &outputs) } catch {
      outputs.forEach { $0.discard() }
      unlink(EmbeddingsOutput.partialPath(run.layout))
      throw error
    }
  }

  private static func collect(_ run: RunDirectory, manifest: Manifest, format: Format, outputs: inout [OutputFile]) throws -> Report {
    let layout = run.layout
    func open(_ path: String) throws -> OutputFile {
      let file = try OutputFile(path: path)
      outputs.append(file)
      return file
    }
    let output = try open(layout.mergedResults)
    // The OpenAI form is written beside results.jsonl, which every other command reads.
    let openAIOutput = try format == .openai ? open(layout.root + "/results.openai.jsonl") : nil
    let errorsOutput = try open(layout.root + "/errors.jsonl")
    var statistics = RunStatistics(variants: manifest.variants)
    var report = Report(runID: manifest.runID, name: manifest.name, total: manifest.totalItems, recorded: 0, ok: 0, errors: 0, missingCount: 0, missing: [], repeated: [], unexpected: 0, variants: [])
    var byVariant: [String: (ok: Int, errors: Int, tokens: Int, ns: Int)] = [:]
    let encoder = JSONLines.lineEncoder()
    let spec = try? run.spec()
    let singleKey = manifest.variants.count == 1 && spec?.repeats == 1
    // `task: embed`: the vectors, in plan order, as one float32 matrix beside the records.
    let embeddings = try spec?.task == .embed ? EmbeddingsOutput(layout, ids: open(layout.root + "/embeddings.ids.jsonl")) : nil
    var firstSeq = 0
    // Timing and telemetry first: they say which GPU each server had, which records refer to.
    let claimOperations = readTiming(layout, into: &statistics)
    readTelemetry(layout, into: &statistics)
    if manifest.distribution == .dynamic {
      report.claimOperations = claimOperations
      report.claimOperationsPerItem = manifest.totalItems > 0 ? (Double(claimOperations) / Double(manifest.totalItems) * 1000).rounded() / 1000 : nil
    }
    let resultFiles = run.resultFileTable()

    // Pass 1 of the next shard runs on a thread of its own while pass 2 reads this one.
    let shards = manifest.shards
    func scan(_ number: Int, firstSeq: Int) -> Background<ShardScan>? {
      guard number < shards.count else { return nil }
      let shard = shards[number]
      let paths = Array((resultFiles[shard.index] ?? [layout.resultFile(shard.index)]).prefix(Int(UInt16.max)))
      return Background { ShardScan(items: shard.items, firstSeq: firstSeq, resultFiles: paths) }
    }
    var nextScan = scan(0, firstSeq: 0)
    for (number, shard) in shards.enumerated() {
      guard let scanned = nextScan?.value() else { break }
      nextScan = scan(number + 1, firstSeq: firstSeq + shard.items)
      report.unexpected += scanned.unexpected
      let extraRecords = scanned.extraRecords
      // Pass 2: the plan's items in order, each with its latest record, read and decoded on a
      // thread of their own while this one counts and writes.
      let reads = PlanOrderReads(shardFile: layout.shardFile(shard.index), items: shard.items, kept: scanned.kept)
      var position = 0
      while let read = try reads.next() {
        defer { position += 1 }
        let item = read.item
        guard let (data, record) = read.found else {
          try embeddings?.add(item, nil)
          report.missingCount += 1
          if report.missing.count < 1000 { report.missing.append(item.key) }
          continue
        }
        guard record.key == item.key else {
          try embeddings?.add(item, nil)
          report.unexpected += 1
          report.missingCount += 1
          if report.missing.count < 1000 { report.missing.append(item.key) }
          continue
        }
        if let extra = extraRecords[position] {
          report.duplicatesSent += extra
          if report.repeated.count < 1000 { report.repeated.append(.init(key: item.key, records: extra + 1)) }
        }
        report.recorded += 1
        if record.status == .ok { report.ok += 1 } else { report.errors += 1 }
        tally(record, into: &byVariant[record.variant, default: (0, 0, 0, 0)])  // one lookup, in place
        statistics.add(record)
        try output.write(line: data)
        try openAIOutput?.write(line: encoder.encode(OpenAIOutputLine(record, singleKey: singleKey)))
        if record.status == .error { try errorsOutput.write(line: data) }
        try embeddings?.add(item, record)
      }
      firstSeq += shard.items
    }
    statistics.finish()
    try output.close()
    try openAIOutput?.close()
    try errorsOutput.close()
    try embeddings?.close()

    // One summary per variant name, even if a hand-edited manifest lists one twice.
    var summarised: Set<String> = []
    report.variants = manifest.variants.filter { summarised.insert($0.name).inserted }.map { variant in
      let entry = byVariant[variant.name] ?? (0, 0, 0, 0)
      let rate = entry.ns > 0 ? Double(entry.tokens) / Double(entry.ns) * 1e9 : nil
      return VariantSummary(variant: variant.name, ok: entry.ok, errors: entry.errors, evalTokens: entry.tokens, decodeTokensPerSecond: rate.map { ($0 * 10).rounded() / 10 })
    }
    let pretty = JSONEncoder()
    pretty.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    try write(pretty.encode(report), to: layout.summary)
    try write(Data(ReportRenderer.timingCSV(statistics).utf8), to: layout.root + "/timing.csv")
    try write(Data(ReportRenderer.sweepCSV(statistics).utf8), to: layout.root + "/sweep.csv")
    let markdown = ReportRenderer.markdown(name: manifest.name, runID: manifest.runID, total: report.total, ok: report.ok, errors: report.errors, missing: report.missingCount, statistics: statistics)
    try write(Data(markdown.utf8), to: layout.root + "/report.md")
    let page = HTMLReport.render(name: manifest.name, runID: manifest.runID, total: report.total, ok: report.ok, errors: report.errors, missing: report.missingCount, statistics: statistics)
    try write(Data(page.utf8), to: layout.root + "/report.html")
    return report
  }

  private static func tally(_ record: ResultRecord, into entry: inout (ok: Int, errors: Int, tokens: Int, ns: Int)) {
    if record.status == .ok { entry.ok += 1 } else { entry.errors += 1 }
    entry.tokens = entry.tokens.addingSaturating(record.timings.evalCount ?? 0)
    entry.ns = entry.ns.addingSaturating(record.timings.evalDuration ?? 0)
  }

  /// Reads `timing/shard-*.jsonl`; a torn or unreadable line is skipped (a timing file is a
  /// report input, not the results, so it never fails the collect). Returns the claim
  /// operations the task runs recorded.
  @discardableResult
  static func readTiming(_ layout: RunLayout, into statistics: inout RunStatistics) -> Int {
    let decoder = JSONDecoder()
    var claimOperations = 0
    for name in files(in: layout.timingDir, suffix: ".jsonl") {
      for (_, line) in LineReader(path: layout.timingDir + "/" + name) {
        guard let event = try? decoder.decode(ShardTimingEvent.self, from: line) else { continue }
        statistics.add(event)
        claimOperations = claimOperations.addingSaturating(max(0, event.claimOperations ?? 0))
      }
    }
    return claimOperations
  }

  /// Reads `telemetry/<node>/shard-*.csv` as a stream of samples, one file at a time; lines that
  /// are not samples (torn by a restart, or an nvidia-smi message) are skipped.
  static func readTelemetry(_ layout: RunLayout, into statistics: inout RunStatistics) {
    for node in files(in: layout.telemetryDir, suffix: "") {
      let folder = layout.telemetryDir + "/" + node
      for name in files(in: folder, suffix: ".csv") {
        let samples = LineReader(path: folder + "/" + name).lazy.compactMap { GPUSample.parse(String(decoding: $0.line, as: UTF8.self), timeZone: .current) }
        statistics.addTelemetry(node: node, samples: samples)
      }
    }
  }

  /// Names in a folder ending in `suffix`, sorted; none when the folder does not exist.
  static func files(in folder: String, suffix: String) -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
    return names.filter { !$0.hasPrefix(".") && $0.hasSuffix(suffix) }.sorted()
  }
}

/// One output line in the OpenAI Batch API's shape.
struct OpenAIOutputLine: Encodable {
  var id: String
  var customID: String
  var meta: JSONValue?
  var response: Response?
  var error: ErrorBody?

  struct Response: Encodable {
    var statusCode: Int
    var body: Body
    enum CodingKeys: String, CodingKey {
      case body
      case statusCode = "status_code"
    }
  }

  struct Body: Encodable {
    var object = "chat.completion"
    var model: String
    var choices: [Choice]
    var usage: Usage
  }

  struct Choice: Encodable {
    var index = 0
    var message: ChatMessage
    var finishReason: String?
    enum CodingKeys: String, CodingKey {
      case index, message
      case finishReason = "finish_reason"
    }
  }

  struct Usage: Encodable {
    var promptTokens: Int
    var completionTokens: Int
    var totalTokens: Int
    enum CodingKeys: String, CodingKey {
      case promptTokens = "prompt_tokens"
      case completionTokens = "completion_tokens"
      case totalTokens = "total_tokens"
    }
  }

  struct ErrorBody: Encodable {
    var code = "caravan_error"
    var message: String
  }

  enum CodingKeys: String, CodingKey {
    case id, response, error, meta
    case customID = "custom_id"
  }

  /// `custom_id` is the prompt id when each prompt ran once; otherwise `id::variant::repeat`,
  /// since OpenAI's format needs one id per line.
  init(_ record: ResultRecord, singleKey: Bool) {
    id = "caravan-\(record.seq)"
    meta = record.meta
    customID = singleKey ? record.id : "\(record.id)::\(record.variant)::\(record.repeat)"
    if record.status == .ok {
      let prompt = record.timings.promptEvalCount ?? 0, completion = record.timings.evalCount ?? 0
      let reason = record.doneReason == "length" ? "length" : "stop"
      response = Response(statusCode: 200, body: Body(model: record.model, choices: [Choice(message: ChatMessage(role: "assistant", content: record.response ?? ""), finishReason: reason)], usage: Usage(promptTokens: prompt, completionTokens: completion, totalTokens: prompt.addingSaturating(completion))))
    } else {
      error = ErrorBody(message: record.error ?? "unknown error")
    }
  }

  func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(id, forKey: .id)
    try c.encode(customID, forKey: .customID)
    try c.encode(response, forKey: .response)
    try c.encode(error, forKey: .error)
    // Not part of OpenAI's format: the prompt line's labels, for scoring (only when it had any).
    try c.encodeIfPresent(meta, forKey: .meta)
  }
}

/// Replaces `path` atomically with `data`, in the run's mode.
private func write(_ data: Data, to path: String) throws {
  try data.writeAtomically(to: path)
  RunFileModes.fix(path)
}

/// A file written through a buffer, replaced atomically when closed.
///
/// Full buffers are written on a queue of their own while collect goes on: the kernel's copy of
/// the merged records into the page cache was a fifth of collect's time, and all of it on
/// collect's own thread. One buffer (a MiB) is written while the next fills; the first write
/// that fails fails the next `write` or `close`.
final class OutputFile: @unchecked Sendable {
  private let path: String
  private let partial: String
  private let handle: FileHandle
  /// Touched only by the caller's thread.
  private var buffer = Data()
  /// Writes the buffers, in order; `handle` is used only on it until `close`.
  private let queue = DispatchQueue(label: "caravan-collect-write")
  /// One buffer at a time in the queue's hands.
  private let pending = DispatchSemaphore(value: 1)
  private let lock = NSLock()
  private var failure: WriteFailure?

  init(path: String) throws {
    self.path = path
    partial = path + ".partial"
    let fd = RunFileModes.open(partial, flags: O_WRONLY | O_TRUNC | O_CLOEXEC)  // the run's mode, kept by the rename
    guard fd >= 0 else { throw RunDirectoryError("cannot write \(partial): \(String(cString: strerror(errno)))") }
    handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
  }

  func write(line: Data) throws {
    buffer.append(line)
    buffer.append(UInt8(ascii: "\n"))
    if buffer.count > Self.chunkSize { try flush() }
  }

  private static let chunkSize = 1 << 20

  /// Hands the buffer to the queue.
  private func flush() throws {
    if let failure = lock.withLock({ failure }) { throw failure }
    guard !buffer.isEmpty else { return }
    let chunk = buffer
    // Room for a MiB and the line that passes it, so that appending never doubles a buffer.
    buffer = Data(capacity: Self.chunkSize + 64 << 10)
    pending.wait()
    queue.async { [self] in
      defer { pending.signal() }
      guard lock.withLock({ failure == nil }) else { return }
      do {
        try handle.write(contentsOf: chunk)
      } catch {
        lock.withLock { failure = WriteFailure(path: partial, error: error) }
      }
    }
  }

  func close() throws {
    try flush()
    queue.sync {}
    if let failure = lock.withLock({ failure }) { throw failure }
    try handle.close()
    guard rename(partial, path) == 0 else { throw WriteFailure(path: path, code: errno) }
  }

  /// Drops the half-written file; the output it would have replaced stays as it was.
  func discard() {
    queue.sync {}
    try? handle.close()
    unlink(partial)
  }
}

/// `embeddings.npy` (float32, one row per work item in plan order; NaN for an item without a
/// vector) and `embeddings.ids.jsonl` (which item each row is), written as collect walks the plan.
final class EmbeddingsOutput {
  static func partialPath(_ layout: RunLayout) -> String { layout.root + "/embeddings.npy.partial" }

  private let matrix: NumpyMatrixWriter
  private let ids: OutputFile
  private let layout: RunLayout
  private let encoder = JSONLines.lineEncoder()

  init(_ layout: RunLayout, ids: OutputFile) throws {
    self.layout = layout
    self.ids = ids
    matrix = try NumpyMatrixWriter(path: Self.partialPath(layout))
  }

  func add(_ item: PlannedKey, _ record: ResultRecord?) throws {
    let vector = record?.status == .ok ? record?.embedding : nil
    let status = record.map { vector == nil ? "error" : $0.status.rawValue } ?? "missing"
    let line: JSONValue = .object([
      "row": .int(matrix.rows), "seq": .int(item.seq), "id": .string(item.id), "variant": .string(item.variant),
      "repeat": .int(item.repeat), "status": .string(status),
    ])
    try matrix.append(vector)
    try ids.write(line: encoder.encode(line))
  }

  /// Moves the matrix into place; with no vector at all there is none to write.
  func close() throws {
    let target = layout.root + "/embeddings.npy"
    try ids.close()
    guard try matrix.close() else { return }
    guard rename(Self.partialPath(layout), target) == 0 else { throw WriteFailure(path: target, code: errno) }
    RunFileModes.fix(target)
  }
}
