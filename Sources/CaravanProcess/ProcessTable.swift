import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// What Linux's /proc says about processes: enough to prove that a pid read from a file is
/// still the process that was written there, before anything signals it.
///
/// A pid alone proves nothing: pids are reused (and restart from low numbers after a reboot or a
/// cluster reset), so a pid file left by an earlier run may name a stranger's process by now.
public enum ProcessTable {
  /// The task token's variable. The job script sets it to a random value per task run, and
  /// everything the task starts inherits it; `/proc/PID/environ` then tells the task's own
  /// processes from anyone else's.
  public static let tokenVariable = "CARAVAN_TASK_TOKEN"

  /// One line of `/proc/PID/stat`, the fields Caravan uses.
  public struct Status: Sendable, Equatable {
    public var pid: pid_t
    public var parent: pid_t
    public var group: pid_t
    public var session: pid_t
    /// Clock ticks after boot when the process started: with the pid, unique for the boot.
    public var startTime: UInt64
    /// Z (zombie) or X (dead): exited, not yet reaped.
    public var exited: Bool
  }

  /// The process's status, or nil when it does not exist (or /proc cannot be read).
  public static func status(_ pid: pid_t) -> Status? {
    guard pid > 0, let data = readAll("/proc/\(pid)/stat") else { return nil }
    let text = String(decoding: data, as: UTF8.self)
    return parseStat(text)
  }

  /// Parses `/proc/PID/stat`. The command name (field 2) is in parentheses and may itself hold
  /// spaces and parentheses, so the fields are counted from the last ')'.
  static func parseStat(_ text: String) -> Status? {
    guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")"),
      let pid = pid_t(text[..<open].trimmingCharacters(in: .whitespaces))
    else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // fields[0] is field 3 (state); field N is fields[N - 3].
    guard fields.count > 19, let parent = pid_t(fields[1]), let group = pid_t(fields[2]), let session = pid_t(fields[3]),
      let start = UInt64(fields[19])
    else { return nil }
    return Status(pid: pid, parent: parent, group: group, session: session, startTime: start, exited: fields[0] == "Z" || fields[0] == "X")
  }

  /// Every pid in /proc now.
  public static func allPIDs() -> [pid_t] {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
  }

  /// The live members of process group `group` (the leader too, if it is still there).
  public static func members(ofGroup group: pid_t) -> [Status] {
    allPIDs().compactMap(status).filter { $0.group == group && !$0.exited }
  }

  /// True when `pid` started with `variable=value` in its environment. False when it did not,
  /// is gone, or its environment cannot be read (another user's, or a setuid program's): a
  /// process is never taken for ours on a guess.
  public static func environment(of pid: pid_t, contains variable: String, value: String) -> Bool {
    guard let data = readAll("/proc/\(pid)/environ") else { return false }
    let wanted = Array("\(variable)=\(value)".utf8)
    return data.split(separator: 0, omittingEmptySubsequences: true).contains { $0.elementsEqual(wanted) }
  }

  /// The inode of the socket listening on 127.0.0.1:`port` (or on every address), from
  /// /proc/net/tcp; nil when nothing listens there or the table cannot be read.
  public static func listeningSocket(port: Int) -> UInt64? {
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
      guard let data = readAll(table) else { continue }
      let text = String(decoding: data, as: UTF8.self)
      for line in text.split(separator: "\n").dropFirst() {
        let fields = line.split(separator: " ")
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        guard fields.count > 9, fields[3] == "0A" else { continue }  // 0A: LISTEN
        let local = fields[1].split(separator: ":")
        guard local.count == 2, Int(local[1], radix: 16) == port else { continue }
        let address = local[0]
        // 0100007F is 127.0.0.1, 00000000 any address; tcp6 spells them as v4-mapped or ::.
        let loopbackOrAny = ["0100007F", "00000000", "0000000000000000FFFF00000100007F", "00000000000000000000000000000000", "00000000000000000000000001000000"]
        guard loopbackOrAny.contains(String(address)) else { continue }
        return UInt64(fields[9])
      }
    }
    return nil
  }

  /// A /proc file read to its end. Its size reads as 0, and a reader that trusts the size (or
  /// takes one page) misses what follows: /proc/net/tcp runs to many pages on a busy node.
  static func readAll(_ path: String) -> Data? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if count < 0, errno == EINTR { continue }
      guard count >= 0 else { return nil }
      if count == 0 { return data }
      data.append(contentsOf: buffer[0..<count])
    }
  }

  /// The processes among `candidates` that hold socket `inode` open.
  public static func holders(ofSocket inode: UInt64, among candidates: [pid_t]) -> [pid_t] {
    let target = "socket:[\(inode)]"
    return candidates.filter { pid in
      let folder = "/proc/\(pid)/fd"
      guard let fds = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return false }
      return fds.contains { (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/\($0)")) == target }
    }
  }
}

extension ProcessTable {
  /// Who listens on a loopback port, as seen from a server's process tree.
  public enum PortOwner: Sendable, Equatable {
    /// A process started by the server (the root or a descendant) holds the listening socket.
    case ours
    /// A listening socket exists and no process of the server's tree holds it: another job's
    /// server (two jobs on a node can be given the same free port).
    case someoneElse
    /// Nothing listens there, or /proc/net cannot tell (a network namespace, say).
    case unknown
  }

  /// Whether the socket listening on 127.0.0.1:`port` belongs to `root`'s process tree.
  /// The tree is followed by parent pids, not process groups or sessions, so a server that
  /// makes a session of its own (or runs in a container's pid namespace) is still found.
  public static func owner(ofPort port: Int, root: pid_t) -> PortOwner {
    guard let inode = listeningSocket(port: port) else { return .unknown }
    let all = allPIDs().compactMap(status).filter { !$0.exited }
    var children: [pid_t: [pid_t]] = [:]
    for process in all { children[process.parent, default: []].append(process.pid) }
    var tree: [pid_t] = [root]
    var index = 0
    while index < tree.count {
      tree += children[tree[index]] ?? []
      index += 1
    }
    return holders(ofSocket: inode, among: tree).isEmpty ? .someoneElse : .ours
  }
}

extension ProcessTable {
  /// `parseStat`, for tests of its field counting.
  public static func parseStatForTests(_ text: String) -> Status? { parseStat(text) }
}
