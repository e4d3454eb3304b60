import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Starts child processes with a clean signal state.
///
/// A child inherits the signal mask of the thread that spawns it, and the threads behind Swift
/// concurrency block most signals; Foundation's `Process` passes that mask on. A job script
/// started that way never sees the TERM that asks it to stop, and neither does its server.
/// `posix_spawn` with an empty mask and default dispositions gives the child what a shell would.
public enum Spawn {
  /// Starts `arguments[0]` (an absolute path) with the given environment and standard streams.
  /// File descriptors not named here are not inherited. With `newSession` the child leads a
  /// session and process group of its own (setsid), so `kill(-pid, ...)` reaches all it starts.
  public static func start(
    _ arguments: [String], environment: [String: String], directory: String? = nil,
    stdout: Int32? = nil, stderr: Int32? = nil, newSession: Bool = false
  ) throws -> pid_t {
    var command = arguments
    if let directory {
      // posix_spawn has no portable chdir; a tiny shell does it before exec.
      command = ["/bin/sh", "-c", "cd -- \"$0\" && exec \"$@\"", directory] + arguments
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    if let stdout { posix_spawn_file_actions_adddup2(&actions, stdout, 1) }
    if let stderr { posix_spawn_file_actions_adddup2(&actions, stderr, 2) }
    // Inherit nothing else: an inherited descriptor of a file being written (a script another
    // thread is creating) would make exec of that file fail with ETXTBSY for as long as the
    // child lives, and a long-lived server would hold it open.
    if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attributes, &none)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigdefault(&attributes, &all)
    var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
    if newSession { flags |= 0x80 }  // POSIX_SPAWN_SETSID (glibc 2.26), not exported by the Glibc module
    posix_spawnattr_setflags(&attributes, Int16(flags))

    let argv = command.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      argv.forEach { free($0) }
      envp.forEach { free($0) }
    }
    var pid = pid_t()
    let result = posix_spawn(&pid, command[0], &actions, &attributes, argv, envp)
    guard result == 0 else {
      throw ProcessError("cannot start \(command[0]): \(String(cString: strerror(result)))")
    }
    return pid
  }

  /// glibc 2.34's posix_spawn_file_actions_addclosefrom_np, which the Glibc module does not
  /// export; nil on an older C library (children then inherit descriptors not marked CLOEXEC).
  private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
  }()

  /// Waits for `pid` off the cooperative pool; returns its exit code (128 + signal if killed).
  public static func wait(_ pid: pid_t) async -> Int32 {
    await onThread {
      var status: Int32 = 0
      while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
      let signal = status & 0x7f
      return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
  }

  /// Stops the process group that `pid` leads (started with `newSession`): TERM, then KILL to
  /// whatever of it is left after `patience`. Someone must reap `pid` meanwhile (`wait`);
  /// returns once the group is gone or killed.
  public static func stopGroup(_ pid: pid_t, patience: Duration) async {
    kill(-pid, SIGTERM)
    kill(pid, SIGTERM)  // in case it has not reached setsid yet
    let deadline = ContinuousClock.now + patience
    while kill(pid, 0) == 0 || kill(-pid, 0) == 0, ContinuousClock.now < deadline {
      try? await Task.sleep(for: .milliseconds(100))
    }
    // Only a group that still has members: its id cannot have been handed to another process
    // meanwhile. An empty one's number may already be someone else's pid (`pid` was reaped).
    if kill(-pid, 0) == 0 { kill(-pid, SIGKILL) }
  }
}

/// Runs blocking work (waitpid, a read to the end of a pipe) on a thread of its own. Tasks,
/// detached ones too, run on a pool with one thread per core, and a blocked one holds a thread
/// that every other task in the process needs.
public func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
  await withCheckedContinuation { continuation in
    Thread.detachNewThread { continuation.resume(returning: work()) }
  }
}
