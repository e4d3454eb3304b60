import Foundation

/// A serial executor with one thread of its own, for actors whose work blocks in the kernel
/// (fsync on shared storage). Jobs run one at a time, in the order they were enqueued.
///
/// `@unchecked Sendable`: its only mutable state, `jobs`, is read and written only while
/// `condition` is locked.
public final class BlockingIOExecutor: SerialExecutor, @unchecked Sendable {
  /// One thread for the process: a worker appends to a few files, one after another.
  public static let shared = BlockingIOExecutor()

  private let condition = NSCondition()
  private var jobs: [UnownedJob] = []

  private init() {
    let thread = Thread { [unowned self] in self.drain() }
    thread.name = "caravan-blocking-io"
    thread.start()
  }

  public func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    condition.lock()
    jobs.append(job)
    condition.signal()
    condition.unlock()
  }

  public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
    UnownedSerialExecutor(ordinary: self)
  }

  private func drain() {
    while true {
      condition.lock()
      while jobs.isEmpty { condition.wait() }
      let batch = jobs
      jobs.removeAll(keepingCapacity: true)
      condition.unlock()
      for job in batch { job.runSynchronously(on: asUnownedSerialExecutor()) }
    }
  }
}
