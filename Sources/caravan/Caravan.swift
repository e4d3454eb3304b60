import ArgumentParser

/// The `caravan` command: LLM prompt batches on Slurm GPU clusters.
@main
struct Caravan: AsyncParsableCommand {
  static let version = "0.1.0"

  static let configuration = CommandConfiguration(
    abstract: "Run LLM prompt batches (prompts × variants × repeats) as Slurm jobs.",
    version: version,
    subcommands: [
      Submit.self, Validate.self, Status.self, Cancel.self, Collect.self, Resume.self, Container.self, Models.self, SamplingMath.self,
      Worker.self, WaitReady.self, FreePort.self, Guard.self, StopLeftovers.self,
    ]
  )
}
