import ArgumentParser
import CaravanRun
import Foundation

extension Caravan {
  /// `caravan init`: a commented first job spec and prompt file.
  struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write a commented first job (job.yaml and prompts.jsonl) into a folder.",
      discussion: """
        Asks nothing. Where Slurm answers (sinfo, 10 s at most) the spec names the cluster's \
        default partition and its GPUs, and lists every partition in a comment; otherwise the \
        partition is a commented-out placeholder. Each value's comment says where it came from. \
        The spec passes `caravan validate` as written. Existing files are never overwritten (exit 64).
        """
    )

    @Argument(help: "The folder to write into (created if missing).")
    var dir: String = "."

    func run() async throws {
      let written: JobStarter.Written
      do {
        written = try await JobStarter(version: Caravan.version).write(into: dir)
      } catch let error as JobStarter.Exists {
        throw failInput("\(error)")
      } catch {
        throw fail("\(error)")
      }
      print("Wrote \(written.spec) and \(written.prompts).")
      for note in written.notes { print("  " + note) }
      print("Next: read the comments in \(written.spec), then `caravan validate \(written.spec)`.")
    }
  }
}
