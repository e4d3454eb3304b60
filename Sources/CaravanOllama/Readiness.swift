import CaravanProcess
import Foundation

/// Waits until a freshly started server answers HTTP, or explains why it never will.
public struct Readiness: Sendable {
  public var client: any InferenceEngine
  /// The server's process id: if it exits, waiting longer is pointless.
  public var serverPID: Int32?
  /// The server's log, whose tail is shown on failure.
  public var logPath: String?
  public var timeout: Duration
  /// Between probes once the server has had `fastPollingFor` to start.
  public var pollInterval: Duration = .milliseconds(200)
  /// Probes come every `fastPollInterval` for this long first: a small server answers within
  /// a few hundred milliseconds, and each probe it refuses costs a connect(2), while polling
  /// every 200 ms from the start left a ready server idle for 100 ms on average.
  public var fastPollingFor: Duration = .seconds(2)
  public var fastPollInterval: Duration = .milliseconds(5)

  public init(client: any InferenceEngine, serverPID: Int32?, logPath: String?, timeout: Duration) {
    self.client = client
    self.serverPID = serverPID
    self.logPath = logPath
    self.timeout = timeout
  }

  /// Returns how long it took; throws `ReadinessError` when the server exits or time runs out.
  @discardableResult
  public func wait() async throws -> Duration {
    let clock = ContinuousClock()
    let start = clock.now
    while true {
      if await client.isReady() { return clock.now - start }
      if let pid = serverPID, !processIsAlive(pid) {
        throw ReadinessError(reason: "the server (pid \(pid)) exited before it answered", url: client.baseURL, logTail: logTail())
      }
      if clock.now - start > timeout {
        throw ReadinessError(reason: "the server did not answer within \(timeout)", url: client.baseURL, logTail: logTail())
      }
      try await Task.sleep(for: clock.now - start < fastPollingFor ? fastPollInterval : pollInterval)
    }
  }

  private func logTail(lines: Int = 20) -> String {
    guard let logPath, let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return "" }
    return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
  }
}

/// The server never became ready.
public struct ReadinessError: Error, CustomStringConvertible {
  public var reason: String
  public var url: String
  public var logTail: String
  public var description: String {
    var text = "\(reason) (\(url))."
    if !logTail.isEmpty { text += "\nLast lines of the server log:\n" + logTail }
    return text
  }
}
