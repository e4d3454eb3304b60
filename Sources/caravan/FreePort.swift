import CaravanProcess
import ArgumentParser

extension Caravan {
  /// `caravan free-port`: prints a TCP port on 127.0.0.1 that nothing listens on.
  struct FreePort: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "free-port",
      abstract: "Print a free TCP port on 127.0.0.1 (the kernel picks it)."
    )

    func run() throws {
      do { print(try freeLoopbackPort()) } catch { throw fail("\(error)") }
    }
  }
}
