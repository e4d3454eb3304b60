import CaravanCore
import CaravanProcess
import Foundation

extension SlurmPartition {
  /// What `sinfo` said, or why it said nothing.
  public enum Query: Sendable, Equatable {
    case answered([SlurmPartition])
    case unavailable(String)
  }

  /// Asks `sinfo`, killed after `timeout` (a login node whose controller is down would hang it).
  public static func query(timeout: Duration = .seconds(10)) async -> Query {
    guard ProcessRunner.onPath("sinfo") else { return .unavailable("sinfo is not on PATH") }
    let output: ProcessRunner.Output
    do {
      output = try await ProcessRunner().run("sinfo", ["-h", "-o", "%P|%G"], timeout: timeout)
    } catch {
      return .unavailable("sinfo could not run: \(error)")
    }
    if output.timedOut { return .unavailable("sinfo gave no answer within \(timeout.components.seconds) s") }
    guard output.status == 0 else {
      // sinfo's last line says why (`sinfo: fatal: Could not establish a configuration source`).
      let last = output.stderr.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
      let message = String(last.trimmingCharacters(in: .whitespaces).prefix(160))
      return .unavailable("sinfo failed (exit \(output.status))" + (message.isEmpty ? "" : ": \(message)"))
    }
    let partitions = parse(output.stdout)
    return partitions.isEmpty ? .unavailable("sinfo listed no partitions") : .answered(partitions)
  }
}
