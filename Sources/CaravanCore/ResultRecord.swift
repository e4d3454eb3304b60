import Foundation

/// One line of `results/shard-NNNN.jsonl`: the outcome of one work item, written once it is final.
public struct ResultRecord: Sendable, Equatable, Codable {
  public enum Status: String, Sendable, Codable { case ok, error }

  public var seq: Int
  public var id: String
  public var variant: String
  public var `repeat`: Int
  public var model: String
  public var options: Options
  public var status: Status
  public var response: String?
  public var error: String?
  public var doneReason: String?
  /// The server's timings, in Ollama's fields (nanoseconds), written flat into the record.
  public var timings = ServerTimings()
  /// Wall time of the last attempt as the worker saw it.
  public var wallMs: Double
  /// Time to the first generated text of the last attempt.
  public var ttftMs: Double?
  /// Time the last attempt waited inside the server before its prompt was processed:
  /// time to first token less model load and prompt evaluation (an estimate, never negative).
  public var queueMs: Double?
  public var node: String
  public var shard: Int
  /// Which of the shard's servers answered (one per GPU with `engine.servers: per-gpu`).
  public var server: Int?
  /// That server's CUDA_VISIBLE_DEVICES, when it had one.
  public var gpu: String?
  /// Tries it took (1 when the first one settled it).
  public var attempts: Int
  public var jobId: String?
  /// ISO 8601 time the record was written.
  public var finishedAt: String
  /// The prompt line's `meta`, unchanged (null when it had none).
  public var meta: JSONValue?
  /// With a structured-output `format`: the answer parsed as JSON (nil when it is not JSON),
  /// whether it satisfies the format as Caravan checks it (false for an error record), and why
  /// not. All nil for free text, and then left out of the record.
  public var parsed: JSONValue?
  public var schemaValid: Bool?
  public var schemaErrors: [String]?
  /// With `task: embed`: the input's vector (float32), instead of a response. Left out otherwise.
  public var embedding: [Float]?

  public var key: WorkKey { WorkKey(id: id, variant: variant, repeat: `repeat`) }

  public init(item: WorkItem, status: Status, node: String, shard: Int, attempts: Int, wallMs: Double, finishedAt: String) {
    self.seq = item.seq
    self.id = item.id
    self.variant = item.variant
    self.repeat = item.repeat
    self.model = item.model
    self.options = item.options
    self.meta = item.meta
    self.status = status
    self.node = node
    self.shard = shard
    self.attempts = attempts
    self.wallMs = wallMs
    self.finishedAt = finishedAt
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case seq, id, variant, `repeat`, model, options, status, response, error, node, shard, attempts
    case doneReason = "done_reason"
    case wallMs = "wall_ms"
    case ttftMs = "ttft_ms"
    case queueMs = "queue_ms"
    case server, gpu, meta, parsed, embedding
    case schemaValid = "schema_valid"
    case schemaErrors = "schema_errors"
    case jobId = "job_id"
    case finishedAt = "finished_at"
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    seq = try c.decode(Int.self, forKey: .seq)
    id = try c.decode(String.self, forKey: .id)
    variant = try c.decode(String.self, forKey: .variant)
    `repeat` = try c.decode(Int.self, forKey: .repeat)
    model = try c.decode(String.self, forKey: .model)
    options = try c.decode(Options.self, forKey: .options)
    status = try c.decode(Status.self, forKey: .status)
    response = try c.decodeIfPresent(String.self, forKey: .response)
    error = try c.decodeIfPresent(String.self, forKey: .error)
    doneReason = try c.decodeIfPresent(String.self, forKey: .doneReason)
    timings = try ServerTimings(from: decoder)
    wallMs = try c.decode(Double.self, forKey: .wallMs)
    ttftMs = try c.decodeIfPresent(Double.self, forKey: .ttftMs)
    queueMs = try c.decodeIfPresent(Double.self, forKey: .queueMs)
    node = try c.decode(String.self, forKey: .node)
    shard = try c.decode(Int.self, forKey: .shard)
    server = try c.decodeIfPresent(Int.self, forKey: .server)
    gpu = try c.decodeIfPresent(String.self, forKey: .gpu)
    attempts = try c.decode(Int.self, forKey: .attempts)
    jobId = try c.decodeIfPresent(String.self, forKey: .jobId)
    finishedAt = try c.decode(String.self, forKey: .finishedAt)
    meta = try c.decodeIfPresent(JSONValue.self, forKey: .meta)
    parsed = try c.decodeIfPresent(JSONValue.self, forKey: .parsed)
    schemaValid = try c.decodeIfPresent(Bool.self, forKey: .schemaValid)
    schemaErrors = try c.decodeIfPresent([String].self, forKey: .schemaErrors)
    embedding = try c.decodeIfPresent([Float].self, forKey: .embedding)
  }

  /// Records are written with every key present (null when unknown), so each line has the same columns.
  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(seq, forKey: .seq)
    try c.encode(id, forKey: .id)
    try c.encode(variant, forKey: .variant)
    try c.encode(`repeat`, forKey: .repeat)
    try c.encode(model, forKey: .model)
    try c.encode(options, forKey: .options)
    try c.encode(status, forKey: .status)
    try c.encode(response, forKey: .response)
    try c.encode(error, forKey: .error)
    try c.encode(doneReason, forKey: .doneReason)
    try timings.encode(to: encoder)
    try c.encode(wallMs, forKey: .wallMs)
    try c.encode(ttftMs, forKey: .ttftMs)
    try c.encode(queueMs, forKey: .queueMs)
    try c.encode(node, forKey: .node)
    try c.encode(shard, forKey: .shard)
    try c.encode(server, forKey: .server)
    try c.encode(gpu, forKey: .gpu)
    try c.encode(attempts, forKey: .attempts)
    try c.encode(jobId, forKey: .jobId)
    try c.encode(finishedAt, forKey: .finishedAt)
    try c.encode(meta ?? .null, forKey: .meta)
    if let schemaValid {
      try c.encode(parsed ?? .null, forKey: .parsed)
      try c.encode(schemaValid, forKey: .schemaValid)
      try c.encodeIfPresent(schemaErrors, forKey: .schemaErrors)
    }
    try c.encodeIfPresent(embedding, forKey: .embedding)
  }

  /// Checks the answer against the item's structured-output format (nothing without one).
  public mutating func check(format: JSONValue?) {
    guard let format else { return }
    guard status == .ok, let response else {
      (parsed, schemaValid, schemaErrors) = (nil, false, nil)
      return
    }
    let result = StructuredFormat.check(response, against: format)
    parsed = result.parsed
    schemaValid = result.valid
    schemaErrors = result.problems.isEmpty ? nil : result.problems
  }
}

extension ResultRecord: FastJSON.Readable {
  /// A record line's members: every key a record may have.
  private enum Member {
    case record(CodingKeys)
    case timing(ServerTimings.CodingKeys)
  }

  private static let members = CodingKeys.allCases.map(Member.record) + ServerTimings.CodingKeys.allCases.map(Member.timing)

  static let fieldNames = FastJSON.FieldNames(
    members.map { member in
      switch member {
      case .record(let key): key.rawValue
      case .timing(let key): key.rawValue
      }
    })

  /// The record in a line's bytes, each member read straight into its field (collect reads a
  /// million of them: building a dictionary per line was a third of its time, and a `JSONValue`
  /// per member a quarter of what was left). Nil where JSONDecoder might read the line
  /// otherwise, or fails; and for a record with an embedding (Float conversion is
  /// JSONDecoder's). The caller then decodes with JSONDecoder, which also words the error.
  public static func read(_ bytes: UnsafeRawBufferPointer) -> ResultRecord? {
    var line = FastJSON.Members(bytes, fieldNames)
    var seq: Int?, id: String?, variant: String?, `repeat`: Int?, model: String?, options: [String: JSONValue]?
    var status: Status?, wallMs: Double?, node: String?, shard: Int?, attempts: Int?, finishedAt: String?
    var record = ResultRecord(
      seq: 0, id: "", variant: "", repeat: 0, model: "", options: [:], status: .ok, wallMs: 0, node: "", shard: 0, attempts: 0, finishedAt: "")
    while let slot = line.next() {
      guard slot >= 0 else {
        guard line.skip() else { return nil }
        continue
      }
      switch members[slot] {
      case .record(.seq): seq = line.int()
      case .record(.id): id = line.string()
      case .record(.variant): variant = line.string()
      case .record(.repeat): `repeat` = line.int()
      case .record(.model): model = line.string()
      case .record(.options):
        guard case .object(let object)? = line.value() else { return nil }
        options = object
      case .record(.status): status = line.string().flatMap(Status.init(rawValue:))
      case .record(.response): guard let value = line.optionalString() else { return nil }; record.response = value
      case .record(.error): guard let value = line.optionalString() else { return nil }; record.error = value
      case .record(.doneReason): guard let value = line.optionalString() else { return nil }; record.doneReason = value
      case .record(.wallMs): wallMs = line.double()
      case .record(.ttftMs): guard let value = line.optionalDouble() else { return nil }; record.ttftMs = value
      case .record(.queueMs): guard let value = line.optionalDouble() else { return nil }; record.queueMs = value
      case .record(.node): node = line.string()
      case .record(.shard): shard = line.int()
      case .record(.server): guard let value = line.optionalInt() else { return nil }; record.server = value
      case .record(.gpu): guard let value = line.optionalString() else { return nil }; record.gpu = value
      case .record(.attempts): attempts = line.int()
      case .record(.jobId): guard let value = line.optionalString() else { return nil }; record.jobId = value
      case .record(.finishedAt): finishedAt = line.string()
      case .record(.meta): guard let value = line.value() else { return nil }; record.meta = value == .null ? nil : value
      case .record(.parsed): guard let value = line.value() else { return nil }; record.parsed = value == .null ? nil : value
      case .record(.schemaValid): guard let value = line.optionalBool() else { return nil }; record.schemaValid = value
      case .record(.schemaErrors):
        guard let value = line.value() else { return nil }
        switch value {
        case .null: record.schemaErrors = nil
        case .array(let list):
          var texts: [String] = []
          for item in list {
            guard case .string(let text) = item else { return nil }
            texts.append(text)
          }
          record.schemaErrors = texts
        default: return nil
        }
      case .record(.embedding):
        // A vector is left to JSONDecoder; null is no vector.
        guard line.isNull() else { return nil }
      case .timing(.totalDuration): guard let value = line.optionalInt() else { return nil }; record.timings.totalDuration = value
      case .timing(.loadDuration): guard let value = line.optionalInt() else { return nil }; record.timings.loadDuration = value
      case .timing(.promptEvalCount): guard let value = line.optionalInt() else { return nil }; record.timings.promptEvalCount = value
      case .timing(.promptEvalDuration): guard let value = line.optionalInt() else { return nil }; record.timings.promptEvalDuration = value
      case .timing(.evalCount): guard let value = line.optionalInt() else { return nil }; record.timings.evalCount = value
      case .timing(.evalDuration): guard let value = line.optionalInt() else { return nil }; record.timings.evalDuration = value
      case .timing(.source):
        guard let value = line.optionalString() else { return nil }
        if let value {
          guard let known = ServerTimings.Source(rawValue: value) else { return nil }
          record.timings.source = known
        }
      }
    }
    guard line.isComplete, let seq, let id, let variant, let `repeat`, let model, let options, let status, let wallMs, let node, let shard,
      let attempts, let finishedAt
    else { return nil }
    (record.seq, record.id, record.variant, record.repeat, record.model, record.options) = (seq, id, variant, `repeat`, model, options)
    (record.status, record.wallMs, record.node, record.shard, record.attempts, record.finishedAt) = (status, wallMs, node, shard, attempts, finishedAt)
    return record
  }

  /// A record with the required members given and the others unknown.
  private init(
    seq: Int, id: String, variant: String, repeat: Int, model: String, options: Options, status: Status, wallMs: Double, node: String,
    shard: Int, attempts: Int, finishedAt: String
  ) {
    (self.seq, self.id, self.variant, self.repeat, self.model, self.options) = (seq, id, variant, `repeat`, model, options)
    (self.status, self.wallMs, self.node, self.shard, self.attempts, self.finishedAt) = (status, wallMs, node, shard, attempts, finishedAt)
  }
}

extension ResultRecord: JSONFormats.Writable {
  /// The record's line as `encode(to:)` and the line encoder write it (keys sorted, every key
  /// present, null when unknown), by hand: JSONEncoder was a tenth of the worker's CPU. Records
  /// with a structured-output check or an embedding are left to the encoder.
  public func appendLine(to bytes: inout [UInt8], encoder: JSONEncoder) throws -> Bool {
    guard schemaValid == nil, embedding == nil else { return false }
    var first = true
    func key(_ name: StaticString) {
      JSONFormats.appendKey(name, first: first, to: &bytes)
      first = false
    }
    func text(_ name: StaticString, _ value: String?) throws {
      key(name)
      if let value { try JSONFormats.appendString(value, to: &bytes, encoder: encoder) } else { bytes += Array("null".utf8) }
    }
    func int(_ name: StaticString, _ value: Int?) {
      key(name)
      if let value { JSONFormats.appendInt(value, to: &bytes) } else { bytes += Array("null".utf8) }
    }
    func double(_ name: StaticString, _ value: Double?) -> Bool {
      key(name)
      guard let value else {
        bytes += Array("null".utf8)
        return true
      }
      return JSONFormats.appendDouble(value, to: &bytes)
    }
    int("attempts", attempts)
    try text("done_reason", doneReason)
    try text("error", error)
    int("eval_count", timings.evalCount)
    int("eval_duration", timings.evalDuration)
    try text("finished_at", finishedAt)
    try text("gpu", gpu)
    try text("id", id)
    try text("job_id", jobId)
    int("load_duration", timings.loadDuration)
    key("meta")
    guard try JSONFormats.append(meta ?? .null, to: &bytes, encoder: encoder) else { return false }
    try text("model", model)
    try text("node", node)
    key("options")
    guard try JSONFormats.append(.object(options), to: &bytes, encoder: encoder) else { return false }
    int("prompt_eval_count", timings.promptEvalCount)
    int("prompt_eval_duration", timings.promptEvalDuration)
    guard double("queue_ms", queueMs) else { return false }
    int("repeat", `repeat`)
    try text("response", response)
    int("seq", seq)
    int("server", server)
    int("shard", shard)
    try text("status", status.rawValue)
    try text("timing_source", timings.source?.rawValue)
    int("total_duration", timings.totalDuration)
    guard double("ttft_ms", ttftMs) else { return false }
    try text("variant", variant)
    guard double("wall_ms", wallMs) else { return false }
    bytes.append(UInt8(ascii: "}"))
    return true
  }
}

extension WorkItem: FastJSON.Readable {
  public static func read(_ bytes: UnsafeRawBufferPointer) -> WorkItem? {
    FastJSON.parse(bytes).flatMap(WorkItem.init(parsed:))
  }

  /// A shard line read by `FastJSON`, as JSONDecoder makes it (nil where it would fail).
  public init?(parsed value: JSONValue) {
    guard case .object(let object) = value, case .object(let options)? = object["options"], case .object(let input)? = object["input"] else { return nil }
    let fields = ParsedFields(object: object)
    do {
      self.init(
        seq: try fields.int("seq"), id: try fields.string("id"), variant: try fields.string("variant"), repeat: try fields.int("repeat"),
        model: try fields.string("model"), input: try Self.input(ParsedFields(object: input)), options: options, meta: fields.optionalValue("meta"))
      format = fields.optionalValue("format")
    } catch {
      return nil
    }
  }

  /// `{"prompt": ...}`, or `{"messages": [...]}` when there is no prompt (or it is null).
  private static func input(_ fields: ParsedFields) throws -> PromptInput {
    if let prompt = try fields.optionalString("prompt") { return .prompt(prompt) }
    guard case .array(let list)? = fields.object["messages"] else { throw FieldMismatch() }
    return .messages(
      try list.map { message in
        guard case .object(let object) = message else { throw FieldMismatch() }
        let fields = ParsedFields(object: object)
        return ChatMessage(role: try fields.string("role"), content: try fields.string("content"))
      })
  }
}

/// A member of a parsed object missing, or of another type than JSONDecoder would accept.
struct FieldMismatch: Error {}

/// Typed reads of a parsed object, with JSONDecoder's rules: a required key must be there with
/// its type; an optional one may be missing or null. `FieldMismatch` where JSONDecoder would throw.
struct ParsedFields {
  let object: [String: JSONValue]

  func isAbsent(_ key: String) -> Bool {
    switch object[key] {
    case nil, .null?: return true
    default: return false
    }
  }

  func string(_ key: String) throws -> String {
    guard case .string(let text)? = object[key] else { throw FieldMismatch() }
    return text
  }

  func optionalString(_ key: String) throws -> String? {
    switch object[key] {
    case nil, .null?: return nil
    case .string(let text)?: return text
    default: throw FieldMismatch()
    }
  }

  func int(_ key: String) throws -> Int {
    guard case .int(let number)? = object[key] else { throw FieldMismatch() }
    return number
  }

  func optionalInt(_ key: String) throws -> Int? {
    switch object[key] {
    case nil, .null?: return nil
    case .int(let number)?: return number
    default: throw FieldMismatch()
    }
  }

  func double(_ key: String) throws -> Double {
    switch object[key] {
    case .int(let number)?: return Double(number)
    case .double(let number)?: return number
    default: throw FieldMismatch()
    }
  }

  func optionalDouble(_ key: String) throws -> Double? {
    isAbsent(key) ? nil : try double(key)
  }

  func optionalValue(_ key: String) -> JSONValue? {
    isAbsent(key) ? nil : object[key]
  }
}
