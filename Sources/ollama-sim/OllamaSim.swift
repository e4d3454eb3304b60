import ArgumentParser
import Foundation
import Hummingbird
import Logging

/// `ollama-sim`: a stand-in for `ollama serve` that speaks the documented API, for tests and
/// CPU rehearsals. It binds OLLAMA_HOST (default 127.0.0.1:11434), like Ollama.
@main
struct OllamaSim: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ollama-sim",
    abstract: "Simulate an Ollama server: /, /api/version, /api/tags, /api/chat, /api/generate, /api/create, /api/pull.",
    discussion: "Fault injection for tests: --mid-stream-error-every cuts streams with Ollama's error line, --burst-503 refuses bursts of requests with Ollama's queue-full 503. GET /sim/stats reports in-flight counters.",
    version: "0.1.0"
  )

  @Option(help: "Address to bind (default: OLLAMA_HOST, else 127.0.0.1:11434).")
  var host: String?

  @Option(help: "Comma-separated models to serve (plus any in --store). With neither, every model name is served.")
  var models: String?

  @Option(help: "Model store in Ollama's layout (default: OLLAMA_MODELS when set); pulls write here.")
  var store: String?

  @Option(help: "Requests decoded at once (default: OLLAMA_NUM_PARALLEL, else 1).")
  var slots: Int?

  @Option(help: "Requests allowed to wait for a slot before 503 (default: OLLAMA_MAX_QUEUE, else 512).")
  var queue: Int?

  @Option(help: "Milliseconds per generated token.")
  var tokenMs: Double = 2

  @Option(help: "Microseconds per prompt token (prefill).")
  var promptTokenUs: Double = 50

  @Option(help: "Milliseconds to 'load' a model, once per process: its first request (or load request) waits, and so do requests that arrive meanwhile.")
  var loadMs: Double = 20

  @Option(help: "Milliseconds each generation holds its slot, however many tokens it has: the tokens are paced evenly over it (replaces --token-ms and --prompt-token-us), for benchmarks with a fixed service time.")
  var serviceMs: Double?

  @Option(help: "Tokens in every answer (num_predict still caps it); default: 8 to 24, hashed from the prompt.")
  var answerTokens: Int?

  @Option(help: "Write the moment the server starts listening (Unix seconds, with microseconds) to this file, so a benchmark can time readiness from the server's side.")
  var listeningFile: String?

  @Option(help: "Append every received request, as JSON, to this file.")
  var requestLog: String?

  @Option(help: "Fail every Nth streamed generation after its first token with an error line (0: never).")
  var midStreamErrorEvery: Int = 0

  @Option(name: .customLong("burst-503"), help: ArgumentHelp("After every EVERY accepted chat/generate requests, refuse the next LENGTH with 503 (queue full).", valueName: "EVERY:LENGTH"))
  var burst503: String?

  func validate() throws {
    if let burst503, SimSettings.Burst(burst503) == nil {
      throw ValidationError("--burst-503 takes EVERY:LENGTH, two positive whole numbers (e.g. 20:3), not '\(burst503)'")
    }
    if midStreamErrorEvery < 0 { throw ValidationError("--mid-stream-error-every must be 0 or more") }
    // Delays become Durations through Int: a non-finite or enormous one would trap there.
    for (flag, value) in [("--token-ms", tokenMs), ("--prompt-token-us", promptTokenUs), ("--load-ms", loadMs), ("--service-ms", serviceMs ?? 0)] where !(value.isFinite && (0...3_600_000).contains(value)) {
      throw ValidationError("\(flag) must be between 0 and 3600000; got \(value)")
    }
    if let answerTokens, !(0...100_000).contains(answerTokens) { throw ValidationError("--answer-tokens must be between 0 and 100000; got \(answerTokens)") }
    if let slots, slots < 1 { throw ValidationError("--slots must be 1 or more; got \(slots)") }
    if let queue, queue < 0 { throw ValidationError("--queue must be 0 or more; got \(queue)") }
  }

  func run() async throws {
    let environment = ProcessInfo.processInfo.environment
    let address = host ?? environment["OLLAMA_HOST"] ?? "127.0.0.1:11434"
    let (hostname, port) = try Self.split(address)
    let modelList = (models ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    let storePath = store ?? environment["OLLAMA_MODELS"]
    let slotCount = max(1, slots ?? environment["OLLAMA_NUM_PARALLEL"].flatMap(Int.init) ?? 1)
    let queueLimit = queue ?? environment["OLLAMA_MAX_QUEUE"].flatMap(Int.init) ?? 512
    let settings = SimSettings(
      tokenDelay: .microseconds(Int(tokenMs * 1000)),
      promptTokenDelay: .microseconds(Int(promptTokenUs)),
      loadDelay: .microseconds(Int(loadMs * 1000)),
      serviceTime: serviceMs.map { .microseconds(Int($0 * 1000)) },
      answerTokens: answerTokens,
      requestLog: requestLog,
      midStreamErrorEvery: midStreamErrorEvery,
      burst503: burst503.flatMap(SimSettings.Burst.init)
    )
    let server = SimServer(
      registry: ModelRegistry(models: modelList, store: storePath),
      slots: SlotPool(slots: slotCount, queueLimit: queueLimit),
      settings: settings,
      log: requestLog.flatMap(RequestLog.init(path:))
    )
    var logger = Logger(label: "ollama-sim")
    logger.logLevel = .warning
    let app = Application(
      router: server.router(),
      configuration: .init(address: .hostname(hostname, port: port), serverName: "ollama-sim"),
      onServerRunning: { [listeningFile] _ in
        if let listeningFile {
          let now = Date().timeIntervalSince1970
          try? Data(String(format: "%.6f\n", now).utf8).write(to: URL(fileURLWithPath: listeningFile))
        }
        FileHandle.standardError.write(Data("ollama-sim: listening on \(hostname):\(port) (slots \(slotCount), queue \(queueLimit), models \(modelList.isEmpty ? "any" : modelList.joined(separator: ",")))\n".utf8))
      },
      logger: logger
    )
    try await app.runService()
  }

  static func split(_ address: String) throws -> (String, Int) {
    var text = address
    if let range = text.range(of: "://") { text = String(text[range.upperBound...]) }
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else {
      throw ValidationError("cannot read host:port from '\(address)'")
    }
    let host = String(text[..<colon])
    return (host.isEmpty ? "127.0.0.1" : host, port)
  }
}
