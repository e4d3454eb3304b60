import ArgumentParser
import CaravanProcess
import Foundation

extension Caravan {
  /// `caravan guard`: runs a server so that it cannot outlive the worker (the worker starts it).
  struct Guard: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run a command that dies with its parent process (used by the worker for each server).",
      discussion: """
        Runs the command as a child in this process's group. When the process --parent is no longer this \
        process's parent (it died, even by SIGKILL), the group gets TERM, and KILL after --patience seconds. \
        A TERM to this process is passed on to the group. Exits with the command's status.
        """,
      shouldDisplay: false
    )

    @Option(help: "The pid of the worker this command must not outlive.")
    var parent: Int32

    @Option(help: "Seconds between TERM and KILL when stopping the command's group.")
    var patience: Int = 5

    @Argument(parsing: .captureForPassthrough, help: "The command (an absolute path first) and its arguments.")
    var command: [String]

    func run() throws {
      let command = self.command.first == "--" ? Array(self.command.dropFirst()) : self.command
      guard !command.isEmpty else { throw ValidationError("give the command to run after --") }
      guard parent > 1 else { throw ValidationError("--parent must be the pid of the process to watch (above 1)") }
      guard (1...3600).contains(patience) else { throw ValidationError("--patience must be between 1 and 3600 seconds") }
      throw ExitCode(OrphanGuard.run(command, parent: parent, patience: .seconds(patience)))
    }
  }

  /// `caravan stop-leftovers`: the job script's EXIT trap; stops the task's own leftover servers.
  struct StopLeftovers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "stop-leftovers",
      abstract: "Stop the process groups a task's pid file lists, if they are provably that task's (the job script's exit trap).",
      discussion: """
        A group is signalled only when its leader is the process the worker wrote down (same pid and start \
        time in /proc) or one of its members has this task's CARAVAN_TASK_TOKEN in its environment. TERM, \
        then KILL after --patience seconds.
        """,
      shouldDisplay: false
    )

    @Option(help: "The task's pid file.")
    var pidFile: String

    @Option(help: "Seconds between TERM and KILL.")
    var patience: Int = 10

    func run() async throws {
      guard (1...3600).contains(patience) else { throw ValidationError("--patience must be between 1 and 3600 seconds") }
      let token = ProcessInfo.processInfo.environment[ProcessTable.tokenVariable]
      let stopped = await OwnedProcessGroups.stopOwned(listedIn: pidFile, token: token, patience: .seconds(patience))
      if !stopped.isEmpty {
        print("caravan: stopped process groups the worker left behind: \(stopped.map(String.init).joined(separator: " "))")
      }
    }
  }
}
