import ArgumentParser
import Foundation

extension Caravan {
  /// `caravan free-port`: prints a TCP port on 127.0.0.1 that nothing listens on.
  struct FreePort: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "free-port",
      abstract: "Print a free TCP port on 127.0.0.1 (the kernel picks it)."
    )

    func run() throws {
      let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      guard fd >= 0 else { throw fail("socket() failed: \(String(cString: strerror(errno)))") }
      defer { close(fd) }
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_port = 0
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
      }
      guard bound == 0 else { throw fail("bind() failed: \(String(cString: strerror(errno)))") }
      var length = socklen_t(MemoryLayout<sockaddr_in>.size)
      _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
      }
      print(UInt16(bigEndian: address.sin_port))
    }
  }
}
