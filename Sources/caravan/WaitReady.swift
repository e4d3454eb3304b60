import ArgumentParser
import CaravanCore
import CaravanOllama

extension Caravan {
  /// `caravan wait-ready`: blocks until the server answers HTTP (the job script calls it).
  struct WaitReady: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "wait-ready",
      abstract: "Wait until an inference server is ready; fail clearly if it exits or times out.",
      discussion: "Ready means Ollama's `GET /` answers `Ollama is running` (--engine ollama), or `GET /health` answers 200 (--engine openai: llama.cpp, vLLM, SGLang; `GET /v1/models` where /health is missing)."
    )

    @Option(help: "Base URL of the server.")
    var url: String

    @Option(help: "The server's process id; waiting stops if it exits.")
    var pid: Int32?

    @Option(help: "The server's log file; its tail is shown on failure.")
    var log: String?

    @Option(help: "Seconds to wait.")
    var timeout: Int = JobSpec.Engine().readyTimeout

    @Option(help: "The API the server speaks: ollama or openai.")
    var engine: JobSpec.Engine.Kind = JobSpec.Engine().kind

    func validate() throws {
      guard (1...2_592_000).contains(timeout) else { throw ValidationError("--timeout must be between 1 and 2592000 seconds (30 days); got \(timeout)") }
    }

    func run() async throws {
      let readiness = Readiness(client: Engines.client(engine, baseURL: url, requestTimeout: .seconds(timeout)), serverPID: pid, logPath: log, timeout: .seconds(timeout))
      do {
        let took = try await readiness.wait()
        print("caravan: server at \(url) ready after \(took.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow)))")
      } catch {
        throw fail("\(error)")
      }
    }
  }
}
extension JobSpec.Engine.Kind: ExpressibleByArgument {}
