import ArgumentParser
import CaravanOllama

extension Caravan {
  /// `caravan wait-ready`: blocks until the server answers HTTP (the job script calls it).
  struct WaitReady: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "wait-ready",
      abstract: "Wait until an Ollama server answers HTTP; fail clearly if it exits or times out."
    )

    @Option(help: "Base URL of the server.")
    var url: String

    @Option(help: "The server's process id; waiting stops if it exits.")
    var pid: Int32?

    @Option(help: "The server's log file; its tail is shown on failure.")
    var log: String?

    @Option(help: "Seconds to wait.")
    var timeout: Int = 600

    func run() async throws {
      let readiness = Readiness(client: OllamaClient(baseURL: url), serverPID: pid, logPath: log, timeout: .seconds(timeout))
      do {
        let took = try await readiness.wait()
        print("caravan: server at \(url) ready after \(took.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow)))")
      } catch {
        throw fail("\(error)")
      }
    }
  }
}
