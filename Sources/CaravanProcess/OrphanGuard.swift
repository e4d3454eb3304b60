import CProcessControl
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A small process between the worker and each server (`caravan guard`), so that a server never
/// outlives its worker, even one killed with SIGKILL.
///
/// The worker starts the guard as the leader of a session and process group of its own; the
/// guard runs the server as its child in that same group, and stops the whole group when the
/// worker dies. The obvious tool, PR_SET_PDEATHSIG on the server itself, covers too little: it
/// reaches only the direct child (Ollama forks runners), a setuid exec clears it (Apptainer's
/// starter), and it fires when the *thread* that spawned the child exits, which Swift's thread
/// pools do. So the guard asks for a parent-death signal for itself only, to wake at once, and
/// decides by `getppid()`: the worker is gone when this process was given another parent. It
/// also polls `getppid()`, which covers a worker that died before the guard could ask.
///
/// The worker keeps signalling the group as before (TERM, KILL after its patience); the guard
/// passes a TERM addressed to it alone on to the group, and KILLs what is left of the group
/// after `patience` (shorter than the worker's, so that the guard, not the worker's KILL, ends it).
public enum OrphanGuard {
  /// How the worker starts a command under a guard: `<caravan> guard --parent <pid> -- command...`.
  public struct Launcher: Sendable {
    /// The caravan executable (the worker's own, from /proc/self/exe).
    public var executable: String

    public init(executable: String) { self.executable = executable }

    /// The command line that runs `command` under a guard watching `parent` (this process).
    public func wrap(_ command: [String], parent: pid_t = getpid()) -> [String] {
      [executable, "guard", "--parent", String(parent), "--"] + command
    }
  }

  /// The signal the kernel sends the guard when its parent (thread) exits.
  static let parentDeathSignal = SIGHUP

  /// Runs `command` (an absolute path first) as a child in this process's group until it exits,
  /// and returns the exit status to exit with: the child's, or 128 + the signal that ended it.
  /// Blocks its thread: it is the whole of a process whose only job is this.
  public static func run(_ command: [String], parent: pid_t, patience: Duration = .seconds(5), poll: Duration = .milliseconds(100)) -> Int32 {
    for signal in [SIGTERM, SIGINT, parentDeathSignal] { _ = caravan_record_signal(signal) }
    // The group the guard stops is its own: the worker starts it as a session leader, which
    // leads its group already; started any other way, it makes a group of its own.
    if getpgrp() != getpid() { _ = setpgid(0, 0) }
    _ = caravan_set_parent_death_signal(parentDeathSignal)
    // Asked only now: a worker that died before the line above sent no signal.
    guard getppid() == parent else { return 128 + SIGKILL }

    let child: pid_t
    do {
      child = try Spawn.start(command, environment: ProcessInfo.processInfo.environment)
    } catch {
      FileHandle.standardError.write(Data("caravan guard: \(error)\n".utf8))
      return 127
    }
    var stopDeadline: ContinuousClock.Instant?
    while true {
      var raw: Int32 = 0
      if waitpid(child, &raw, WNOHANG) == child {
        // Whatever the server left in the group (runners it forked) goes with it.
        killGroupMembers(SIGKILL)
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
      }
      let signal = caravan_take_recorded_signal()
      let orphaned = getppid() != parent
      if stopDeadline == nil, orphaned || signal == SIGTERM || signal == SIGINT {
        // A parent-death signal while the parent lives is a thread of it exiting: ignored.
        if orphaned { FileHandle.standardError.write(Data("caravan guard: the worker (pid \(parent)) is gone; stopping its server\n".utf8)) }
        killGroupMembers(SIGTERM)
        stopDeadline = .now + patience
      }
      if let deadline = stopDeadline, ContinuousClock.now >= deadline {
        killGroupMembers(SIGKILL)
      }
      var pause = timespec(tv_sec: Int(poll.components.seconds), tv_nsec: Int(poll.components.attoseconds / 1_000_000_000))
      // A signal to this thread ends the pause early (EINTR); any other ends it within `poll`.
      _ = nanosleep(&pause, nil)
    }
  }

  /// Signals every other live process in the guard's group (the guard's own pid is the group id).
  static func killGroupMembers(_ signal: Int32) {
    let me = getpid()
    for member in ProcessTable.members(ofGroup: me) where member.pid != me {
      kill(member.pid, signal)
    }
  }
}
