import Foundation

/// A value computed on a thread of its own; `value()` waits for it.
final class Background<Value: Sendable>: @unchecked Sendable {
  private let done = DispatchSemaphore(value: 0)
  private var result: Value?
  private var finished: Value?

  init(_ work: @escaping @Sendable () -> Value) {
    let thread = Thread { [self] in
      result = work()
      done.signal()
    }
    thread.start()
  }

  /// Waits for the value the first time.
  func value() -> Value {
    if let finished { return finished }
    done.wait()
    guard let result else { preconditionFailure("the thread signals only after setting the result") }
    finished = result
    return result
  }
}
