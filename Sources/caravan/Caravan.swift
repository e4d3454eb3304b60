import ArgumentParser
import CaravanCore
import Foundation

/// The `caravan` command: LLM prompt batches on Slurm GPU clusters.
@main
struct Caravan: AsyncParsableCommand {
  static let version = "0.1.0"

  static let configuration = CommandConfiguration(
    abstract: "Run LLM prompt batches (prompts × variants × repeats) as Slurm jobs.",
    version: version,
    subcommands: [
      Init.self, Submit.self, Validate.self, Status.self, Cancel.self, Collect.self, Resume.self, Diff.self, EstimateCommand.self, Container.self, Models.self, SamplingMath.self,
      SimulateDistribution.self, Worker.self, WaitReady.self, FreePort.self, Guard.self, StopLeftovers.self,
    ]
  )

  static func main() async {
    // Line-buffered even into a pipe or a file: progress lines and messages then arrive in the
    // order they were written, and each as soon as it is complete.
    lineBufferStandardOutput()
    let arguments = Array(CommandLine.arguments.dropFirst())
    if let message = UnknownSubcommand.message(arguments, command: Caravan.self, path: ["caravan"]) {
      FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
      Foundation.exit(64)
    }
    await main(arguments)
  }
}

/// A mistyped subcommand (`caravan sumbit`), caught before ArgumentParser's "unexpected
/// argument", so the message can name the command meant.
enum UnknownSubcommand {
  static func message(_ arguments: [String], command: any ParsableCommand.Type, path: [String]) -> String? {
    let subcommands = command.configuration.subcommands
    guard !subcommands.isEmpty, command.configuration.defaultSubcommand == nil,
      let word = arguments.first, !word.hasPrefix("-")
    else { return nil }
    let names = subcommands.map { $0.configuration.commandName ?? $0._commandName }
    if let index = names.firstIndex(of: word) {
      return message(Array(arguments.dropFirst()), command: subcommands[index], path: path + [word])
    }
    if word == "help" { return nil }
    let prefix = path.joined(separator: " ")
    if let guess = closestMatch(to: word, among: names) {
      return "'\(word)' is not a \(prefix) command; did you mean '\(guess)'? (`\(prefix) \(guess) --help`)"
    }
    return "'\(word)' is not a \(prefix) command; the commands are \(names.joined(separator: ", ")) (`\(prefix) --help`)"
  }
}

/// Makes C's stdout (which `print` writes to) line-buffered. Swift 6 refuses to name the global
/// `stdout` (shared mutable state), so its address is looked up as a symbol instead; this runs
/// once, before any task or thread exists.
func lineBufferStandardOutput() {
  // RTLD_DEFAULT is the null handle on glibc: search the process's global symbols.
  guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "stdout"),
    let stream = symbol.assumingMemoryBound(to: UnsafeMutablePointer<FILE>?.self).pointee
  else { return }
  setvbuf(stream, nil, _IOLBF, 0)
}
