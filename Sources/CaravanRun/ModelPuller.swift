import CaravanProcess
import CaravanStorage
import CaravanCore
import CaravanOllama
import Foundation

/// `caravan models pull`: a temporary server on the login node pulls into the shared store.
///
/// Compute nodes rarely reach the internet, so models are pulled beforehand. The server is the
/// same Ollama the jobs run (from the image, or one on PATH), or the simulator in tests; it
/// writes Ollama's own store layout.
public struct ModelPuller: Sendable {
  /// What serves the pull.
  public enum Engine: Sendable, Equatable {
    case ollama(executable: String)
    case apptainer(image: String)
    case simulator(executable: String)
  }

  public var store: String
  public var engine: Engine
  public var readyTimeout: Duration = .seconds(120)

  public init(store: String, engine: Engine) {
    self.store = store
    self.engine = engine
  }

  /// Pulls `model`, reporting progress, then checks that the store has its manifest. A name
  /// Ollama would refuse throws `ModelNameError` before any server starts or folder is made.
  public func pull(_ model: String, progress: @escaping @Sendable (PullProgress) -> Void) async throws {
    let name = try ModelName(parsing: model)
    try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("caravan-pull-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    defer { try? FileManager.default.removeItem(at: scratch) }
    let log = scratch.appendingPathComponent("server.log").path
    let port = try freeLoopbackPort()
    let logFD = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    defer { close(logFD) }

    var environment = ProcessInfo.processInfo.environment
    environment["OLLAMA_HOST"] = "127.0.0.1:\(port)"
    environment["OLLAMA_MODELS"] = store
    environment["HOME"] = scratch.path
    let command: [String]
    switch engine {
    case .ollama(let executable): command = [executable, "serve"]
    case .simulator(let executable): command = [executable, "--store", store]
    case .apptainer(let image):
      command = ["/usr/bin/env", "apptainer", "exec", "--home", scratch.path, "--env", "OLLAMA_HOST=127.0.0.1:\(port)", "--env", "OLLAMA_MODELS=\(store)", "--bind", store, image, "ollama", "serve"]
    }
    let pid = try Spawn.start(command, environment: environment, stdout: logFD, stderr: logFD, newSession: true)
    let client = OllamaClient(baseURL: "http://127.0.0.1:\(port)")
    let pulled: Result<Void, any Error>
    do {
      try await Readiness(client: client, serverPID: pid, logPath: log, timeout: readyTimeout).wait()
      try await client.pull(model, progress: progress)
      pulled = .success(())
    } catch {
      pulled = .failure(error)
    }
    // Stop and reap the server (off the shared threads) whatever happened.
    async let reaped = Spawn.wait(pid)
    await Spawn.stopGroup(pid, patience: .seconds(10))
    _ = await reaped
    try pulled.get()
    guard ModelStore(path: store).contains(model) else {
      throw RunDirectoryError("the server reported success but \(store)/\(name.manifestPath) does not exist; is OLLAMA_MODELS honoured by this server?")
    }
  }
}
