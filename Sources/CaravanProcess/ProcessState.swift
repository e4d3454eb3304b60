import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// True while `pid` exists and is not a zombie (an exited child its parent has not reaped yet).
public func processIsAlive(_ pid: Int32) -> Bool {
  guard kill(pid, 0) == 0 || errno == EPERM else { return false }
  if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
    let close = stat.lastIndex(of: ")")
  {
    let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
    return state != "Z" && state != "X"
  }
  return true
}
