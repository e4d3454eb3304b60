import Foundation

/// Runs a program to completion and captures its output.
public struct ProcessRunner: Sendable {
  /// The result of one run.
  public struct Output: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// The program ran past the `timeout` it was given and was killed.
    public var timedOut = false
  }

  public init() {}

  /// Runs `executable` (a path, or a name looked up on PATH) with `arguments`. With `timeout`,
  /// a program still running by then is killed (a tool hung in a broken driver, say).
  public func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeout: Duration? = nil) async throws -> Output {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let pid = process.processIdentifier
    let watchdog = timeout.map { limit in
      Task {
        try await Task.sleep(for: limit)
        kill(pid, SIGKILL)
      }
    }
    // Read both pipes while the process runs, so a chatty program cannot block on a full pipe.
    async let stdout = onThread { out.fileHandleForReading.readDataToEndOfFile() }
    async let stderr = onThread { err.fileHandleForReading.readDataToEndOfFile() }
    let (o, e) = await (stdout, stderr)
    await onThread { process.waitUntilExit() }
    watchdog?.cancel()
    var output = Output(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    // The watchdog fired unless it was cancelled while still asleep.
    if let watchdog, case .success = await watchdog.result { output.timedOut = true }
    return output
  }

  /// The absolute path of `name` on `searchPath` (default: this process's PATH).
  public static func path(of name: String, searchPath: String? = nil) throws -> String {
    let path = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for folder in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
      return "\(folder)/\(name)"
    }
    throw ProcessError("\(name) is not on PATH")
  }

  /// True when `name` is an executable on PATH.
  public static func onPath(_ name: String) -> Bool {
    (try? path(of: name)) != nil
  }
}
