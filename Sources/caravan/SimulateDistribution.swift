import ArgumentParser
import CaravanCore
import Foundation

extension Caravan {
  /// `caravan simulate-distribution`: the distribution benchmark, without a cluster.
  struct SimulateDistribution: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "simulate-distribution",
      abstract: "Simulate a run's tasks under static and dynamic distribution, and print each makespan against the ideal.",
      discussion: """
        Tasks of the given speeds send items of skewed lengths (log-normal, seeded), cut as the \
        planner cuts them: one contiguous shard a task (static), or the planner's chunks, claimed \
        as the worker claims them (dynamic). Two scenarios: every node lives; and --die-task \
        dies at --die-at of the ideal makespan, its chunk taken over --claim-timeout seconds \
        after its last heartbeat. The ideal is the work over the speed available (the dead \
        node's until it dies). The last line is one JSON object.
        """
    )

    @Option(help: "Work items.")
    var items = 20_000

    @Option(help: "Each task's speed, comma-separated (an item takes its length / speed).")
    var speeds = "1,1,1,1,0.5,0.5,0.5,0.5"

    @Option(help: "Median item length, in seconds at speed 1.")
    var median = 2.0

    @Option(help: "Log-normal shape of the item lengths (0: all equal).")
    var sigma = 1.0

    @Option(help: "The task that dies in the second scenario.")
    var dieTask = 0

    @Option(help: "When it dies, as a fraction of the ideal makespan.")
    var dieAt = 0.3

    @Option(help: "slurm.claim_timeout, in seconds.")
    var claimTimeout = 120.0

    @Option(help: "Seed of the item lengths.")
    var seed: UInt64 = 1

    func validate() throws {
      guard items >= 1 else { throw ValidationError("--items must be at least 1") }
      guard let parsed = parsedSpeeds, !parsed.isEmpty, parsed.allSatisfy({ $0 > 0 && $0.isFinite }) else {
        throw ValidationError("--speeds takes positive numbers separated by commas, such as 1,1,0.5")
      }
      guard parsed.indices.contains(dieTask) else { throw ValidationError("--die-task must be a task index below \(parsed.count)") }
      guard median > 0, median.isFinite, sigma >= 0, sigma <= 5 else { throw ValidationError("--median must be above 0 and --sigma between 0 and 5") }
      guard dieAt > 0, dieAt < 1, claimTimeout >= 0, claimTimeout.isFinite else { throw ValidationError("--die-at must be between 0 and 1 and --claim-timeout 0 or more") }
    }

    var parsedSpeeds: [Double]? {
      let parts = speeds.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
      return parts.contains(nil) ? nil : parts.compactMap { $0 }
    }

    func run() throws {
      let speeds = parsedSpeeds ?? []
      var simulation = DistributionSimulation(speeds: speeds, lengths: DistributionSimulation.skewedLengths(count: items, median: median, sigma: sigma, seed: seed))
      simulation.claimTimeout = claimTimeout
      print("\(items) items (log-normal lengths, median \(median) s, sigma \(sigma)) on \(speeds.count) tasks of speeds \(self.speeds)")
      print("| scenario | ideal | static | static / ideal | dynamic | dynamic / ideal | chunks | taken over |")
      print("|---|---:|---:|---:|---:|---:|---:|---:|")
      var summary: [String: Any] = [:]
      for (name, key, death) in [("all nodes live", "live", nil), ("task \(dieTask) dies at \(Int(dieAt * 100))%", "death", (dieTask, dieAt * simulation.ideal))] as [(String, String, (Int, Double)?)] {
        simulation.death = death.map { (task: $0.0, at: $0.1) }
        let ideal = simulation.ideal
        let fixed = simulation.runStatic(), dynamic = simulation.runDynamic()
        func cell(_ outcome: DistributionSimulation.Outcome) -> (String, String) {
          guard let makespan = outcome.makespan else { return ("\(outcome.itemsLeft) items left", "-") }
          return (String(format: "%.0f s", makespan), String(format: "%.3f", makespan / ideal))
        }
        let (staticTime, staticRatio) = cell(fixed), (dynamicTime, dynamicRatio) = cell(dynamic)
        print("| \(name) | \(String(format: "%.0f s", ideal)) | \(staticTime) | \(staticRatio) | \(dynamicTime) | \(dynamicRatio) | \(dynamic.chunks) | \(dynamic.chunksTakenOver) |")
        summary["\(key)_ideal_s"] = ideal
        summary["\(key)_static_ratio_to_ideal"] = fixed.makespan.map { $0 / ideal } ?? NSNull()
        summary["\(key)_static_items_left"] = fixed.itemsLeft
        summary["\(key)_dynamic_ratio_to_ideal"] = dynamic.makespan.map { $0 / ideal } ?? NSNull()
        summary["\(key)_dynamic_items_left"] = dynamic.itemsLeft
      }
      let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    }
  }
}
