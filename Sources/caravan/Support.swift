import ArgumentParser
import CaravanCore
import Foundation

/// Paths of the running executable and its sibling tools.
enum Executables {
  /// Absolute path of this `caravan` binary (jobs run the same one).
  static var caravan: String {
    if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
    return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
  }

  /// `ollama-sim` next to this binary, else the one on PATH.
  static var simulator: String {
    let sibling = URL(fileURLWithPath: caravan).deletingLastPathComponent().appendingPathComponent("ollama-sim").path
    return FileManager.default.isExecutableFile(atPath: sibling) ? sibling : "ollama-sim"
  }
}

/// Prints input problems and exits 64 (EX_USAGE), the code for bad input.
func failInput(_ error: InputError) -> ExitCode {
  failInput(error.description)
}

func failInput(_ message: String) -> ExitCode {
  FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
  return ExitCode(64)
}

/// Prints a failure the user can act on and exits 1.
func fail(_ message: String) -> ExitCode {
  FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
  return ExitCode.failure
}

func printJSON(_ object: [String: Any]) {
  if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
    print(String(decoding: data, as: UTF8.self))
  }
}

/// `--progress-interval`: a tenth of a second to an hour.
func validateProgressInterval(_ seconds: Double?) throws {
  if let seconds, !(seconds.isFinite && seconds >= 0.1 && seconds <= 3600) {
    throw ValidationError("--progress-interval must be between 0.1 and 3600 seconds; got \(seconds)")
  }
}
