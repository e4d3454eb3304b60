import CaravanRun
import Foundation

/// A local run's progress while its shards run: a redrawn bar on a terminal, a plain line per
/// reading otherwise (every `--progress-interval` seconds; 1 on a terminal, 5 otherwise).
///
/// `@unchecked Sendable`: the mutable properties are read and written only in `show` and
/// `finish`, which hold `lock` throughout.
final class RunProgressDisplay: @unchecked Sendable {
  private let lock = NSLock()
  private let handle: FileHandle
  private let terminal: Bool
  private var baseline: RunProgress?
  private var start = Date()
  private var drew = false

  /// With `json`, stdout carries only the JSON, so progress goes to stderr.
  init(json: Bool) {
    handle = json ? .standardError : .standardOutput
    terminal = isatty(json ? STDERR_FILENO : STDOUT_FILENO) == 1
  }

  /// The interval asked for, else the default for where the output goes.
  func interval(_ seconds: Double?) -> Duration {
    .milliseconds(Int((seconds ?? (terminal ? 1 : 5)) * 1000))
  }

  func show(_ progress: RunProgress) {
    lock.lock()
    defer { lock.unlock() }
    if baseline == nil {
      baseline = progress
      start = Date()
    }
    let text = progress.line(since: baseline, elapsedSeconds: Date().timeIntervalSince(start))
    if terminal {
      let width = 24
      let filled = progress.total > 0 ? min(width, progress.done * width / progress.total) : width
      let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
      handle.write(Data("\r[\(bar)] \(text)\u{1B}[K".utf8))
      drew = true
    } else {
      handle.write(Data("progress: \(text)\n".utf8))
    }
  }

  /// Ends the bar's line, so what follows starts on a line of its own.
  func finish() {
    lock.lock()
    defer { lock.unlock() }
    if drew { handle.write(Data("\n".utf8)) }
    drew = false
  }
}
