import CEventPoll
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What `PlainLoop` drives on a connection: one request's exchange.
protocol LoopExchange: AnyObject, Sendable {
  /// When the loop gives up on it.
  var deadline: ContinuousClock.Instant { get }
  /// Takes `connection` for its request (under the loop's lock, before the loop reads it);
  /// `kept`: an idle one, used before.
  func adopt(_ connection: PlainConnection, kept: Bool)
  /// Reads what has come (on the loop's thread); nil to wait for more, else the exchange is
  /// over and says whether its connection may carry another request.
  func readable(_ connection: PlainConnection) -> PlainLoop.After?
  /// Sends what is left of the request (on the loop's thread); nil to go on, else the exchange
  /// is over (it failed).
  func writable(_ connection: PlainConnection) -> PlainLoop.After?
  /// Its time is up: it ends with an error (its connection is closed).
  func expire()
}

/// One thread that reads every plain connection, with epoll: it sleeps only when no connection
/// has bytes, so with many requests in flight one wake reads several answers' tokens (a thread
/// per request woke once per token). It sends the requests and resumes each caller's task with
/// its answer; it also holds the idle connections and closes one when its server does, and it
/// ends exchanges whose time is up.
public final class PlainLoop: @unchecked Sendable {
  public static let shared = PlainLoop()

  enum After { case keep, close }

  /// More idle connections to one server than this are closed.
  static let idleLimit = 256

  private let epoll: Int32
  private let wake: Int32
  /// Everything below is under `lock`.
  private let lock = NSLock()
  /// Every connection watched, in use or idle, by descriptor.
  private var connections: [Int32: PlainConnection] = [:]
  /// The exchange on each connection in use.
  private var exchanges: [Int32: any LoopExchange] = [:]
  /// Idle connections by server, newest last.
  private var idle: [String: [PlainConnection]] = [:]
  /// Tasks to run on the loop's thread (it is a `TaskExecutor`).
  private var jobs: [UnownedJob] = []
  /// The loop waits in epoll_wait, until this time (nil: until an event).
  private var sleeping = false
  private var sleepsUntil: ContinuousClock.Instant?

  private init() {
    epoll = caravan_poll_create()
    wake = caravan_poll_wake_fd()
    caravan_poll_add(epoll, wake, Int32(CARAVAN_POLL_READABLE))
    let thread = Thread { [unowned self] in self.run() }
    thread.name = "caravan-plain-http"
    thread.start()
  }

  /// Whether the calling thread is the loop's.
  var isCurrent: Bool { pthread_equal(pthread_self(), pthread_t(loopThread.load(ordering: .acquiring))) != 0 }
  private let loopThread = Atomic<UInt>(0)

  /// Gives `exchange` an idle connection to `server`, if one is kept (watched for room to
  /// write too, when the loop is to send the request).
  func attachIdle(_ exchange: any LoopExchange, server: String, writable: Bool) -> PlainConnection? {
    lock.withLock {
      guard let connection = idle[server]?.popLast() else { return nil }
      if writable { caravan_poll_change(epoll, connection.fd, Int32(CARAVAN_POLL_READABLE) | Int32(CARAVAN_POLL_WRITABLE)) }
      attachLocked(exchange, connection, kept: true)
      return connection
    }
  }

  /// Watches `connection` (new) for `exchange`: for bytes, and also for room to write while
  /// it connects or when the loop is to send the request.
  func attach(_ exchange: any LoopExchange, _ connection: PlainConnection, writable: Bool) {
    lock.withLock {
      caravan_poll_add(epoll, connection.fd, Int32(CARAVAN_POLL_READABLE) | (writable ? Int32(CARAVAN_POLL_WRITABLE) : 0))
      connections[connection.fd] = connection
      attachLocked(exchange, connection, kept: false)
    }
  }

  private func attachLocked(_ exchange: any LoopExchange, _ connection: PlainConnection, kept: Bool) {
    exchanges[connection.fd] = exchange
    connection.begin()
    exchange.adopt(connection, kept: kept)
    // The loop sleeps past this deadline: wake it to wait for the earlier one.
    if sleeping, sleepsUntil.map({ exchange.deadline < $0 }) ?? true { wakeLocked() }
  }

  private func wakeLocked() {
    var one: UInt64 = 1
    _ = Glibc.write(wake, &one, 8)
    sleeping = false
  }

  /// Asks the loop to send the rest of `exchange`'s request, or to stop (it is sent).
  func wantsToWrite(_ connection: PlainConnection, for exchange: any LoopExchange, _ on: Bool) {
    lock.withLock {
      guard connections[connection.fd] === connection, exchanges[connection.fd] === exchange else { return }
      caravan_poll_change(epoll, connection.fd, Int32(CARAVAN_POLL_READABLE) | (on ? Int32(CARAVAN_POLL_WRITABLE) : 0))
    }
  }

  /// Shuts down the connection `exchange` uses, if it has one: its read then fails at once.
  func shutDown(_ exchange: any LoopExchange) {
    lock.withLock {
      for (fd, using) in exchanges where using === exchange { shutdown(fd, Int32(SHUT_RDWR)) }
    }
  }

  /// Stops watching `connection` (it closes when the last reference to it goes).
  func drop(_ connection: PlainConnection) {
    lock.withLock { dropLocked(connection) }
  }

  private func dropLocked(_ connection: PlainConnection) {
    guard connections[connection.fd] === connection else { return }
    connections[connection.fd] = nil
    exchanges[connection.fd] = nil
    if let index = idle[connection.server]?.firstIndex(where: { $0 === connection }) { idle[connection.server]?.remove(at: index) }
    caravan_poll_remove(epoll, connection.fd)
  }

  /// The exchange on `connection` is over: it waits for the next one, or is closed.
  private func release(_ connection: PlainConnection, _ after: After) {
    let kept = lock.withLock {
      guard after == .keep, connection.isIdle, connections[connection.fd] === connection,
        idle[connection.server, default: []].count < Self.idleLimit
      else { return false }
      exchanges[connection.fd] = nil
      caravan_poll_change(epoll, connection.fd, Int32(CARAVAN_POLL_READABLE))
      idle[connection.server, default: []].append(connection)
      return true
    }
    if !kept { drop(connection) }
  }

  /// Drops `connection` if it is still idle (a caller may have just taken it).
  private func dropIdle(_ connection: PlainConnection) {
    lock.withLock {
      if exchanges[connection.fd] == nil, idle[connection.server]?.contains(where: { $0 === connection }) == true { dropLocked(connection) }
    }
  }

  private func run() {
    loopThread.store(UInt(pthread_self()), ordering: .releasing)
    var fds = [Int32](repeating: 0, count: 64)
    var flags = [Int32](repeating: 0, count: 64)
    while true {
      let ready = lock.withLock {
        defer { jobs.removeAll(keepingCapacity: true) }
        return jobs
      }
      for job in ready { job.runSynchronously(on: asUnownedTaskExecutor()) }
      // Exchanges whose time is up end; the next deadline bounds the wait (set in the same
      // locked step as `sleeping`, so an exchange attached after it wakes the loop if it must).
      let now = ContinuousClock.now
      let (expired, next, busy): ([(PlainConnection, any LoopExchange)], ContinuousClock.Instant?, Bool) = lock.withLock {
        var expired: [(PlainConnection, any LoopExchange)] = []
        var next: ContinuousClock.Instant?
        for (fd, exchange) in exchanges {
          if exchange.deadline <= now {
            if let connection = connections[fd] { expired.append((connection, exchange)) }
          } else if next.map({ exchange.deadline < $0 }) ?? true {
            next = exchange.deadline
          }
        }
        // With tasks to run, the loop only looks for events; else it sleeps until one.
        let busy = !jobs.isEmpty
        if expired.isEmpty && !busy {
          sleeping = true
          sleepsUntil = next
        }
        return (expired, next, busy)
      }
      for (connection, exchange) in expired {
        drop(connection)
        exchange.expire()
      }
      if !expired.isEmpty { continue }
      let timeout: Int32 = busy ? 0 : next.map { deadline in
        let left = deadline - now
        return Int32(clamping: (left.components.seconds * 1000) + left.components.attoseconds / 1_000_000_000_000_000 + 1)
      } ?? -1
      let count = caravan_poll_wait(epoll, &fds, &flags, Int32(fds.count), timeout)
      lock.withLock { sleeping = false }
      guard count > 0 else { continue }
      for (fd, flag) in zip(fds[0..<Int(count)], flags[0..<Int(count)]) {
        if fd == wake {
          var value: UInt64 = 0
          _ = Glibc.read(wake, &value, 8)
          continue
        }
        let (connection, exchange) = lock.withLock { (connections[fd], exchanges[fd]) }
        guard let connection else { continue }
        guard let exchange else {
          // An idle connection has news: its server closed it (or sent what nobody asked for).
          dropIdle(connection)
          continue
        }
        if flag & Int32(CARAVAN_POLL_WRITABLE) != 0, let after = exchange.writable(connection) {
          release(connection, after)
          continue
        }
        if flag & Int32(CARAVAN_POLL_READABLE) != 0, let after = exchange.readable(connection)
        {
          release(connection, after)
        }
      }
    }
  }
}

/// The loop's thread runs the tasks that prefer it (`withTaskExecutorPreference`): a worker's
/// requests run where their answers are read, and an answer resumes its task without waking
/// another thread.
extension PlainLoop: TaskExecutor {
  public func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    lock.withLock {
      jobs.append(job)
      if sleeping { wakeLocked() }
    }
  }
}
