import Foundation

/// A write into the run directory failed: which file, the system's reason, and whether the file
/// system is full (or a quota used up), which the user can fix and then resume.
public struct WriteFailure: Error, CustomStringConvertible {
  public var path: String
  /// The POSIX error, when the failure carries one.
  public var code: Int32?

  public init(path: String, code: Int32?) {
    self.path = path
    self.code = code
  }

  /// Reads the POSIX error out of what Foundation throws (an NSError of the POSIX domain, or a
  /// Cocoa error whose underlying error is one), so no Foundation text reaches the user.
  public init(path: String, error: any Error) {
    self.init(path: path, code: Self.posixCode(error as NSError))
  }

  public var isOutOfSpace: Bool { code == ENOSPC || code == EDQUOT }

  public var description: String {
    let reason = code.map { String(cString: strerror($0)) } ?? "the write failed"
    return "cannot write \(path): \(reason)" + (isOutOfSpace ? " (the file system is full, or your quota is used up)" : "")
  }

  private static func posixCode(_ error: NSError) -> Int32? {
    if error.domain == NSPOSIXErrorDomain { return Int32(error.code) }
    if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError { return posixCode(underlying) }
    if error.domain == NSCocoaErrorDomain, error.code == NSFileWriteOutOfSpaceError { return ENOSPC }
    return nil
  }
}

extension Data {
  /// Writes through a temporary file renamed into place; a failure is a `WriteFailure`.
  public func writeAtomically(to path: String) throws {
    do { try write(to: URL(fileURLWithPath: path), options: .atomic) } catch { throw WriteFailure(path: path, error: error) }
  }
}

/// Bytes an unprivileged user can still write on the file system that holds `path`; nil when
/// the file system does not say.
public func availableBytes(at path: String) -> UInt64? {
  var info = statvfs()
  guard statvfs(path, &info) == 0 else { return nil }
  let (bytes, overflow) = UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize))
  return overflow ? .max : bytes
}
