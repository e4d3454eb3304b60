import CaravanRun
import ArgumentParser
import CaravanCore

extension Caravan {
  /// `caravan validate`: the checks of submit, without writing anything.
  struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a job spec and its prompt file; write nothing.")

    @Argument(help: "The job spec (YAML or JSON).")
    var spec: String

    func run() async throws {
      let preparer = RunPreparer(caravanPath: Executables.caravan, simulatorPath: Executables.simulator, version: Caravan.version)
      do {
        let (spec, _, plan) = try preparer.load(specPath: spec)
        let cut = plan.distribution == .dynamic ? "\(plan.shards.count) chunks for \(plan.tasks) tasks (dynamic)" : "\(plan.shards.count) shards"
        print("\(self.spec): ok. \(plan.items.count) work items, \(plan.variants.count) variants, \(spec.repeats) repeats, \(cut).")
        for variant in plan.variants {
          let options = variant.options.keys.sorted().map { "\($0)=\(variant.options[$0]!.compactDescription)" }.joined(separator: " ")
          print("  \(variant.name): model \(variant.model)\(options.isEmpty ? "" : ", " + options)")
        }
      } catch let error as InputError {
        throw failInput(error)
      }
    }
  }
}
