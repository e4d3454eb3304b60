import CaravanCore
import CaravanProcess
import CaravanRun
import ArgumentParser
import CaravanOllama
import Foundation

extension Caravan {
  /// `caravan models pull|list`: the shared model store, filled on a login node.
  struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Pull models into a shared Ollama model store, and list it.",
      subcommands: [Pull.self, List.self]
    )

    /// `caravan models pull`
    struct Pull: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Start a temporary server, pull MODEL into the store, verify it, stop the server.",
        discussion: "Run it on a login node: compute nodes usually have no internet."
      )

      @Argument(help: "The model, e.g. gemma:7b.")
      var model: String

      @Option(help: "The model store (default: $OLLAMA_MODELS).")
      var store: String?

      @Option(help: "The .sif to run the server from (default: `ollama` on PATH).")
      var image: String?

      @Flag(help: "Pull through ollama-sim (for tests and rehearsals).")
      var simulator = false

      func validate() throws {
        if let reason = ModelName.problem(model) { throw ValidationError("'\(model)' is not a valid Ollama model name: \(reason)") }
      }

      func run() async throws {
        guard let store = store ?? ProcessInfo.processInfo.environment["OLLAMA_MODELS"] else {
          throw failInput("give the model store with --store DIR (or set OLLAMA_MODELS)")
        }
        let engine: ModelPuller.Engine
        if simulator {
          engine = .simulator(executable: Executables.simulator)
        } else if let image {
          engine = .apptainer(image: image)
        } else if let ollama = try? ProcessRunner.path(of: "ollama") {
          engine = .ollama(executable: ollama)
        } else {
          throw fail("no `ollama` on PATH; pass the image with --image ollama.sif (build one with `caravan container build`)")
        }
        let bar = ProgressLine(model: model)
        do {
          try await ModelPuller(store: store, engine: engine).pull(model) { bar.update($0) }
        } catch {
          bar.finish()
          throw fail("pulling \(model) into \(store) failed: \(error)")
        }
        bar.finish()
        print("Pulled \(model) into \(store).")
      }
    }

    /// `caravan models list`
    struct List: ParsableCommand {
      static let configuration = CommandConfiguration(abstract: "List the models in a store (read from disk; no server needed).")

      @Option(help: "The model store (default: $OLLAMA_MODELS).")
      var store: String?

      func run() throws {
        guard let store = store ?? ProcessInfo.processInfo.environment["OLLAMA_MODELS"] else {
          throw failInput("give the model store with --store DIR (or set OLLAMA_MODELS)")
        }
        let entries: [ModelStore.Entry]
        do { entries = try ModelStore(path: store).entries() } catch { throw fail("\(error)") }
        if entries.isEmpty { print("\(store): no models"); return }
        let width = max(4, entries.map(\.name.count).max() ?? 0)
        print("NAME".padding(toLength: width, withPad: " ", startingAt: 0) + "  SIZE      STATUS")
        for entry in entries {
          let status = entry.missingBlobs == 0 ? "ok" : "\(entry.missingBlobs) blob(s) missing: pull again"
          print(entry.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + formatBytes(entry.size).padding(toLength: 8, withPad: " ", startingAt: 0) + "  " + status)
        }
      }
    }
  }
}

/// Pull progress: a redrawn bar on a terminal, one plain line per step (and every 5 s) otherwise.
///
/// `@unchecked Sendable`: the mutable properties are read and written only in `update`, which
/// holds `lock` throughout.
final class ProgressLine: @unchecked Sendable {
  private let model: String
  private let lock = NSLock()
  private let terminal = isatty(STDOUT_FILENO) == 1
  private var lastStatus = ""
  private var lastPrint = Date.distantPast
  private var start = Date()
  private var drew = false

  init(model: String) { self.model = model }

  func update(_ step: PullProgress) {
    lock.lock()
    defer { lock.unlock() }
    guard let (done, total) = step.progress else {
      if drew { print("") ; drew = false }
      print("\(model): \(step.status)")
      lastStatus = step.status
      return
    }
    if step.status != lastStatus { start = Date(); lastStatus = step.status }
    let elapsed = max(0.001, Date().timeIntervalSince(start))
    let rate = Double(done) / elapsed
    let eta = rate > 0 ? Double(total - done) / rate : 0
    let fraction = Double(done) / Double(total)
    // The counts are the server's: progress holds them to 0...total, and the rates saturate.
    let text = "\(step.status) \(Int(fraction * 100))% \(formatBytes(done))/\(formatBytes(total)) \(formatBytes(rate.saturatingInt ?? 0))/s ETA \((eta.rounded().saturatingInt ?? 0))s"
    if terminal {
      let filled = Int(fraction * 30)
      let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
      print("\r\(model) [\(bar)] \(text)\u{1B}[K", terminator: "")
      fflush(nil)
      drew = true
    } else if done == total || Date().timeIntervalSince(lastPrint) >= 5 {
      print("\(model): \(text)")
      lastPrint = Date()
    }
  }

  func finish() {
    lock.lock()
    defer { lock.unlock() }
    if drew { print("") }
    drew = false
  }
}

func formatBytes(_ bytes: Int) -> String {
  let units = ["B", "KB", "MB", "GB", "TB"]
  var value = Double(bytes), unit = 0
  while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
  return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}
