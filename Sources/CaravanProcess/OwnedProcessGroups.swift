import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The process groups one task run started (its servers' guards, the GPU sampler), written to
/// the task's pid file so that the job script can stop them if the worker is killed first.
///
/// Each line is `<pid> <start time>`: the group leader's pid and its start time from
/// /proc/PID/stat. A group is signalled only when it is proven to be this task's own (`owned`),
/// never on a pid read from a file alone.
public struct OwnedProcessGroups: Sendable, Equatable {
  /// One group: its leader's pid and start time (clock ticks after boot).
  public struct Entry: Sendable, Equatable {
    public var pid: pid_t
    public var startTime: UInt64?

    public init(pid: pid_t, startTime: UInt64?) {
      self.pid = pid
      self.startTime = startTime
    }
  }

  public var entries: [Entry]

  public init(entries: [Entry]) { self.entries = entries }

  /// The file's text: one `<pid> <start time>` line per group.
  public var text: String {
    entries.map { "\($0.pid)\($0.startTime.map { " \($0)" } ?? "")\n" }.joined()
  }

  /// Reads a pid file; lines that are not `<pid>` or `<pid> <start time>` are skipped.
  public init(text: String) {
    entries = text.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: " ")
      guard let first = fields.first, let pid = pid_t(first), pid > 1 else { return nil }
      return Entry(pid: pid, startTime: fields.count > 1 ? UInt64(fields[1]) : nil)
    }
  }

  /// Whether group `entry.pid` is provably this task run's: its leader is still the very process
  /// that was written down (same pid and start time), or one of its live members carries the
  /// task token in its environment. A process group id cannot be handed to a new process while
  /// any member of that group lives, so one proven member proves the group.
  public static func owned(_ entry: Entry, token: String?) -> Bool {
    if let startTime = entry.startTime, let leader = ProcessTable.status(entry.pid), !leader.exited,
      leader.startTime == startTime, leader.group == entry.pid
    {
      return true
    }
    guard let token, !token.isEmpty else { return false }
    return ProcessTable.members(ofGroup: entry.pid).contains {
      ProcessTable.environment(of: $0.pid, contains: ProcessTable.tokenVariable, value: token)
    }
  }

  /// Stops every owned group the file at `path` lists: TERM, then KILL to what is left after
  /// `patience`. Returns the groups it signalled; a group it cannot prove is left alone.
  @discardableResult
  public static func stopOwned(listedIn path: String, token: String?, patience: Duration) async -> [pid_t] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
    let groups = OwnedProcessGroups(text: text).entries.filter { owned($0, token: token) }.map(\.pid)
    guard !groups.isEmpty else { return [] }
    for group in groups { kill(-group, SIGTERM) }
    let deadline = ContinuousClock.now + patience
    while groups.contains(where: { !ProcessTable.members(ofGroup: $0).isEmpty }), ContinuousClock.now < deadline {
      try? await Task.sleep(for: .milliseconds(100))
    }
    // The members still there now are the ones signalled above: proven, and still in the group.
    for group in groups where !ProcessTable.members(ofGroup: group).isEmpty { kill(-group, SIGKILL) }
    return groups
  }
}
