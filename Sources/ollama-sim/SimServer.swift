import CaravanCore
import Foundation
import Hummingbird

/// Timing and capacity settings of one simulator process.
struct SimSettings: Sendable {
  var tokenDelay: Duration
  var promptTokenDelay: Duration
  var loadDelay: Duration
  /// Each generation holds its slot this long, its tokens paced evenly over it; nil: the
  /// prompt and token delays decide.
  var serviceTime: Duration? = nil
  /// Tokens in every answer (num_predict still caps it); nil: the model's natural length.
  var answerTokens: Int? = nil
  var requestLog: String?
  /// Every Nth streamed generation fails after its first token with an error line (HTTP 200), as
  /// Ollama does when the runner crashes; 0 never.
  var midStreamErrorEvery: Int = 0
  /// Bursts of 503 (queue full), as a busy shared server gives them; nil never.
  var burst503: Burst?

  /// After every `every` accepted chat/generate requests, the next `length` are refused with 503.
  struct Burst: Sendable, Equatable {
    var every: Int
    var length: Int

    /// Reads `EVERY:LENGTH`, both positive whole numbers.
    init?(_ text: String) {
      let parts = text.split(separator: ":", omittingEmptySubsequences: false)
      guard parts.count == 2, let every = Int(parts[0]), let length = Int(parts[1]), every > 0, length > 0 else { return nil }
      self.every = every
      self.length = length
    }
  }
}

/// Decides which requests fail on purpose: streams cut by an error line, and bursts of 503.
actor FaultCounter {
  private var streamed = 0
  private var accepted = 0
  private var refuseNext = 0
  /// Requests refused by a burst so far.
  private(set) var burstRejected = 0
  /// Streams cut by an error line so far.
  private(set) var midStreamFailed = 0

  /// Counts a streamed generation; true when it is one of those that fail mid-stream.
  func nextFails(every: Int) -> Bool {
    streamed += 1
    let fails = every > 0 && streamed % every == 0
    if fails { midStreamFailed += 1 }
    return fails
  }

  /// Counts a chat/generate request; false when a burst refuses it.
  func admits(_ burst: SimSettings.Burst?) -> Bool {
    guard let burst else { return true }
    if refuseNext > 0 {
      refuseNext -= 1
      burstRejected += 1
      return false
    }
    accepted += 1
    if accepted % burst.every == 0 { refuseNext = burst.length }
    return true
  }
}

/// Ollama's answer when its queue is full (server/sched.go, ErrMaxQueue); note the two spaces.
let queueFullMessage = "server busy, please try again.  maximum pending requests exceeded"

/// Routes of the Ollama API, answered as the documentation describes them.
struct SimServer: Sendable {
  let registry: ModelRegistry
  let slots: SlotPool
  let settings: SimSettings
  let log: RequestLog?
  let faults = FaultCounter()

  func router() -> Router<BasicRequestContext> {
    let router = Router()
    router.get("/") { _, _ in "Ollama is running" }
    router.head("/") { _, _ in Response(status: .ok) }
    router.get("/api/version") { _, _ in json(["version": .string("0.0.0-caravan-sim")]) }
    router.get("/api/tags") { _, _ in
      let models = await registry.all().map { name -> JSONValue in
        .object(["name": .string(name), "model": .string(name), "size": .int(0), "details": .object(["format": .string("gguf")])])
      }
      return json(["models": .array(models)])
    }
    router.get("/sim/stats") { _, _ in
      let stats = await slots.stats
      let inFlight = await slots.inFlight, queued = await slots.queued
      var histogram: [String: JSONValue] = [:]
      for (count, seconds) in stats.secondsAtInFlight { histogram[String(count)] = .double(seconds) }
      let steady = await slots.steadyHistogram
      let steadySeconds = steady.values.reduce(0, +)
      var steadyHistogram: [String: JSONValue] = [:]
      for (count, seconds) in steady { steadyHistogram[String(count)] = .double(seconds) }
      return json([
        "requests": .int(stats.requests), "rejected": .int(stats.rejected), "in_flight": .int(inFlight),
        "queued": .int(queued), "max_in_flight": .int(stats.maxInFlight), "seconds_at_in_flight": .object(histogram),
        "slots": .int(slots.slots), "burst_rejected": .int(await faults.burstRejected), "mid_stream_failed": .int(await faults.midStreamFailed),
        // The steady phase: from the first to the last moment every slot was busy.
        "steady_seconds_at_in_flight": .object(steadyHistogram), "steady_seconds": .double(steadySeconds),
        "steady_full_fraction": steadySeconds > 0 ? .double((steady[slots.slots] ?? 0) / steadySeconds) : .null,
      ])
    }
    router.post("/api/chat") { request, _ in try await complete(request, chat: true) }
    router.post("/api/generate") { request, _ in try await complete(request, chat: false) }
    router.post("/api/embed") { request, _ in try await embed(request) }
    router.post("/api/create") { request, _ in try await create(request) }
    router.post("/api/pull") { request, _ in try await pull(request) }
    return router
  }

  private func complete(_ request: Request, chat: Bool) async throws -> Response {
    guard let body = try await readJSON(request) else { return error(.badRequest, "invalid JSON body") }
    guard let name = body["model"]?.stringValue, !name.isEmpty else { return error(.badRequest, "model is required") }
    let requestOptions = body["options"]?.objectValue ?? [:]
    var options: Options = [:]
    var system: String? = body["system"]?.stringValue
    switch await registry.resolve(name) {
    case .missing:
      return error(.notFound, "model \"\(name)\" not found, try pulling it first")
    case .created(let model):
      options = model.parameters
      system = system ?? model.system
    case .base:
      break
    }
    for (key, value) in requestOptions { options[key] = value }
    let stream = body["stream"]?.boolValue ?? true
    // Ollama's `format`: "json" or a JSON schema object; null or "" is free text, anything else a 400.
    var structuredFormat: JSONValue?
    switch body["format"] {
    case nil, .null?, .string("")?: break
    case let format? where format == .string("json") || format.objectValue != nil: structuredFormat = format
    case let format?: return error(.internalServerError, TextModel.invalidFormatMessage(format))
    }
    let text: String
    if chat {
      // No messages (or an empty list) only loads the model, as documented.
      let messages = body["messages"]?.arrayValue ?? []
      if messages.isEmpty { return try await load(name, chat: true) }
      var parts = messages.map { "\($0["role"]?.stringValue ?? ""): \($0["content"]?.stringValue ?? "")" }
      if let system, messages.first?["role"]?.stringValue != "system" { parts.insert("system: \(system)", at: 0) }
      text = parts.joined(separator: "\n")
    } else {
      // No prompt (or an empty one) only loads the model, as documented.
      let prompt = body["prompt"]?.stringValue ?? ""
      if prompt.isEmpty { return try await load(name, chat: false) }
      text = (system.map { "system: \($0)\n" } ?? "") + prompt
    }
    await log?.append(["endpoint": .string(chat ? "/api/chat" : "/api/generate"), "model": .string(name), "options": .object(requestOptions), "effective_options": .object(options), "stream": .bool(stream)])

    guard await faults.admits(settings.burst503), await slots.acquire() else {
      return error(.serviceUnavailable, queueFullMessage)
    }
    let started = ContinuousClock.now
    // The first request for a model waits for it to load (inside its slot), and so do requests
    // that arrive during that load; the time shows as its load_duration.
    await registry.ensureLoaded(name, delay: settings.loadDelay)
    let loadTime = ContinuousClock.now - started
    let seed = UInt64.random(in: 0...UInt64.max)
    let output: TextModel.Output
    if let format = structuredFormat {
      output = TextModel.structured(model: name, prompt: text, options: options, format: format, randomSeed: seed)
    } else {
      output = TextModel.generate(model: name, prompt: text, options: options, randomSeed: seed, length: settings.answerTokens)
    }
    let promptTokens = max(1, text.split(whereSeparator: \.isWhitespace).count)
    let generation = Generation(model: name, chat: chat, tokens: output.tokens, doneReason: output.doneReason, promptTokens: promptTokens, started: started, settings: settings, loadTime: loadTime, streaming: stream)

    let slots = self.slots
    let failMidStream = stream ? await faults.nextFails(every: settings.midStreamErrorEvery) : false
    if !stream {
      do {
        let final = try await generation.run { _ in }
        await slots.release()
        return json(final)
      } catch {
        await slots.release()
        throw error
      }
    }
    return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: ResponseBody { writer in
      do {
        if failMidStream {
          // The documented shape: a 200 stream with a token, then an error line, then the end.
          if let first = generation.tokens.first { try await writer.write(line(.object(generation.chunk(first)))) }
          try await writer.write(line(.object(["error": .string("an error was encountered while running the model: unexpected EOF")])))
          await slots.release()
          try await writer.finish(nil)
          return
        }
        let final = try await generation.run { chunk in try await writer.write(line(chunk)) }
        try await writer.write(line(final))
        await slots.release()
        try await writer.finish(nil)
      } catch {
        await slots.release()
        throw error
      }
    })
  }

  /// `POST /api/embed`: `input` is text or a list of texts; the answer has one L2-normalised
  /// vector per input under `embeddings`, with `total_duration`, `load_duration` and
  /// `prompt_eval_count`. No input only loads the model (an empty list back). It takes one slot,
  /// and the prefill time of every input's tokens.
  private func embed(_ request: Request) async throws -> Response {
    guard let body = try await readJSON(request) else { return error(.badRequest, "invalid JSON body") }
    guard let name = body["model"]?.stringValue, !name.isEmpty else { return error(.badRequest, "model is required") }
    if case .missing = await registry.resolve(name) { return error(.notFound, "model \"\(name)\" not found, try pulling it first") }
    let inputs: [String]
    switch body["input"] {
    case nil, .null?: inputs = []
    case .string(let text)?: inputs = [text]
    case .array(let list)?:
      let texts = list.compactMap(\.stringValue)
      guard texts.count == list.count else { return error(.badRequest, "invalid input type") }
      inputs = texts
    case _?: return error(.badRequest, "invalid input type")
    }
    await log?.append(["endpoint": .string("/api/embed"), "model": .string(name), "inputs": .int(inputs.count)])
    guard await faults.admits(settings.burst503), await slots.acquire() else { return error(.serviceUnavailable, queueFullMessage) }
    let started = ContinuousClock.now
    await registry.ensureLoaded(name, delay: settings.loadDelay)
    let loadTime = ContinuousClock.now - started
    let tokens = inputs.reduce(0) { $0 + max(1, $1.split(whereSeparator: \.isWhitespace).count) }
    do { try await Task.sleep(for: settings.promptTokenDelay * tokens) } catch {
      await slots.release()
      throw error
    }
    await slots.release()
    let vectors = inputs.map { TextModel.embedding(model: name, text: $0) }
    return json([
      "model": .string(name), "embeddings": .array(vectors.map { .array($0.map { .double(Double($0)) }) }),
      "total_duration": .int(Int((ContinuousClock.now - started).nanoseconds)), "load_duration": .int(Int(loadTime.nanoseconds)),
      "prompt_eval_count": .int(tokens),
    ])
  }

  private func create(_ request: Request) async throws -> Response {
    guard let body = try await readJSON(request) else { return error(.badRequest, "invalid JSON body") }
    guard let name = (body["model"] ?? body["name"])?.stringValue, !name.isEmpty else { return error(.badRequest, "model is required") }
    guard let from = body["from"]?.stringValue else {
      // The removed form (`modelfile`) and any body without `from` or `files` get Ollama's answer.
      return error(.badRequest, "neither 'from' or 'files' was specified")
    }
    var base = from
    var parameters = body["parameters"]?.objectValue ?? [:]
    var system = body["system"]?.stringValue
    switch await registry.resolve(from) {
    case .missing: return error(.notFound, "model \"\(from)\" not found, try pulling it first")
    case .created(let parent):
      base = parent.from
      for (key, value) in parent.parameters where parameters[key] == nil { parameters[key] = value }
      system = system ?? parent.system
    case .base: break
    }
    await registry.create(name: name, model: .init(from: base, parameters: parameters, system: system))
    await log?.append(["endpoint": .string("/api/create"), "model": .string(name), "body": body])
    let statuses = ["reading model metadata", "using existing layer sha256:\(String(format: "%016llx", stableHash(base)))", "writing manifest", "success"]
    if body["stream"]?.boolValue == false { return json(["status": .string("success")]) }
    return ndjson(statuses.map { .object(["status": .string($0)]) })
  }

  private func pull(_ request: Request) async throws -> Response {
    guard let body = try await readJSON(request) else { return error(.badRequest, "invalid JSON body") }
    guard let name = (body["model"] ?? body["name"])?.stringValue, !name.isEmpty else { return error(.badRequest, "model is required") }
    // As Ollama does: a name outside its rules is refused, so no name can write outside the store.
    guard let parsed = try? ModelName(parsing: name) else { return error(.badRequest, "invalid model name") }
    let blob = Data((0..<4096).map { UInt8(truncatingIfNeeded: stableHash(name) &+ UInt64($0)) })
    let digest = "sha256:" + String(format: "%016llx", stableHash(name))
    var lines: [JSONValue] = [.object(["status": .string("pulling manifest")])]
    for completed in stride(from: 1024, through: blob.count, by: 1024) {
      lines.append(.object(["status": .string("pulling \(digest.dropFirst(7).prefix(12))"), "digest": .string(digest), "total": .int(blob.count), "completed": .int(completed)]))
    }
    try await registry.addPulled(name, parsed: parsed, blob: blob)
    lines += ["verifying sha256 digest", "writing manifest", "success"].map { .object(["status": .string($0)]) }
    if body["stream"]?.boolValue == false { return json(["status": .string("success")]) }
    return ndjson(lines)
  }

  /// A load request (chat without messages, generate without a prompt): it loads the model once
  /// per process and answers one done object with `done_reason: "load"`, streamed or not. Like
  /// Ollama's, the answer carries no timings. A 503 burst refuses it like any other request, but
  /// it takes no decode slot.
  private func load(_ name: String, chat: Bool) async throws -> Response {
    await log?.append(["endpoint": .string(chat ? "/api/chat" : "/api/generate"), "model": .string(name), "load": .bool(true)])
    guard await faults.admits(settings.burst503) else { return error(.serviceUnavailable, queueFullMessage) }
    await registry.ensureLoaded(name, delay: settings.loadDelay)
    var answer: [String: JSONValue] = ["model": .string(name), "created_at": .string(Date().ISO8601Format()), "done_reason": .string("load"), "done": .bool(true)]
    if chat {
      answer["message"] = .object(["role": .string("assistant"), "content": .string("")])
    } else {
      answer["response"] = .string("")
    }
    return json(answer)
  }

  private func readJSON(_ request: Request) async throws -> JSONValue? {
    let buffer = try await request.body.collect(upTo: 16 << 20)
    return try? JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView))
  }
}

/// One generation in progress: paces tokens like a real server and produces Ollama's final object.
struct Generation: Sendable {
  var model: String
  var chat: Bool
  var tokens: [String]
  var doneReason: String
  var promptTokens: Int
  var started: ContinuousClock.Instant
  var settings: SimSettings
  /// How long this request waited for its model to load (zero once it is loaded).
  var loadTime: Duration
  var streaming: Bool

  /// Emits one chunk object per token, then returns the final (done) object with timings.
  func run(_ emit: (JSONValue) async throws -> Void) async throws -> JSONValue {
    let promptStart = ContinuousClock.now
    if settings.serviceTime == nil { try await Task.sleep(for: settings.promptTokenDelay * promptTokens) }
    let promptTime = ContinuousClock.now - promptStart
    let evalStart = ContinuousClock.now
    if let service = settings.serviceTime {
      // A fixed service time, counted from when the request got its slot (so the text model's
      // own work is inside it): token k is sent at k/n of it (deadlines, so sleeps do not add up
      // their overshoot); an empty answer still holds its slot that long.
      let count = max(1, tokens.count)
      for (index, token) in tokens.enumerated() {
        try await Task.sleep(until: started + service * (index + 1) / count, clock: .continuous)
        try await emit(.object(chunk(token)))
      }
      if tokens.isEmpty { try await Task.sleep(until: started + service, clock: .continuous) }
    } else {
      for token in tokens {
        try await Task.sleep(for: settings.tokenDelay)
        try await emit(.object(chunk(token)))
      }
    }
    let evalTime = ContinuousClock.now - evalStart
    // Non-streamed answers carry the whole text in the final object; streamed ones carry "".
    var final = chunk(streaming ? "" : tokens.joined())
    final["done"] = .bool(true)
    final["done_reason"] = .string(doneReason)
    final["total_duration"] = .int(Int((ContinuousClock.now - started).nanoseconds))
    final["load_duration"] = .int(Int(loadTime.nanoseconds))
    final["prompt_eval_count"] = .int(promptTokens)
    final["prompt_eval_duration"] = .int(Int(promptTime.nanoseconds))
    final["eval_count"] = .int(tokens.count)
    final["eval_duration"] = .int(Int(evalTime.nanoseconds))
    return .object(final)
  }

  func chunk(_ text: String) -> [String: JSONValue] {
    var object: [String: JSONValue] = ["model": .string(model), "created_at": .string(Date().ISO8601Format()), "done": .bool(false)]
    if chat {
      object["message"] = .object(["role": .string("assistant"), "content": .string(text)])
    } else {
      object["response"] = .string(text)
    }
    return object
  }
}


/// Appends every received request to a JSON Lines file, so tests can see what reached the server.
actor RequestLog {
  private let handle: FileHandle
  init?(path: String) {
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    guard let handle = FileHandle(forWritingAtPath: path) else { return nil }
    handle.seekToEndOfFile()
    self.handle = handle
  }
  func append(_ object: [String: JSONValue]) {
    guard var data = try? JSONEncoder().encode(JSONValue.object(object)) else { return }
    data.append(UInt8(ascii: "\n"))
    handle.write(data)
  }
}

func json(_ object: [String: JSONValue], status: HTTPResponse.Status = .ok) -> Response {
  json(.object(object), status: status)
}

func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
  let data = (try? JSONEncoder().encode(value)) ?? Data("{}".utf8)
  return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
}

func ndjson(_ lines: [JSONValue]) -> Response {
  Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: ResponseBody(contentsOf: lines.map(line)))
}

func line(_ value: JSONValue) -> ByteBuffer {
  var data = (try? JSONEncoder().encode(value)) ?? Data("{}".utf8)
  data.append(UInt8(ascii: "\n"))
  return ByteBuffer(bytes: data)
}

/// Ollama's error body: `{"error": "..."}` with the HTTP status.
func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
  json(["error": .string(message)], status: status)
}
