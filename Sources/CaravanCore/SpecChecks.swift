/// The checks of a parsed spec that `SpecParser` and `SpecValidator` do not make, run by
/// `caravan validate` and `caravan submit` alike (`RunPreparer.check`) once `PlanLimits` has
/// bounded the plan: duplicate variants, model names, and upper bounds on numbers that later
/// feed arithmetic. Lines are found in the spec's text only when there is a problem to report.
public enum SpecChecks {
  public static func problems(spec: JobSpec, specText: String, specFile: String) -> [Problem] {
    var cached: SpecLocations?
    let locations = {
      if let cached { return cached }
      let made = SpecLocations(text: specText)
      cached = made
      return made
    }
    return SpecBounds.problems(spec: spec, specFile: specFile, locations: locations)
      + ModelChecks.problems(spec: spec, specFile: specFile, locations: locations)
      + VariantChecks.problems(spec: spec, variants: Planner.variants(for: spec), specFile: specFile, locations: locations)
  }
}

/// Upper bounds on spec numbers that the job multiplies, adds to, or turns into durations:
/// the parser checks lower bounds, and without these a `parallel: 9223372036854775807` would
/// overflow inside the job rather than be refused at submit.
public enum SpecBounds {
  /// Requests in flight per server.
  public static let maxParallel = 4096
  /// Seconds to wait for a server's first answer: 30 days, as for engine.request_timeout.
  public static let maxReadyTimeout = 2_592_000
  /// Seconds of warning before the time limit: Slurm's `--signal` takes at most 65535.
  public static let maxGrace = 65_535

  public static func problems(spec: JobSpec, specFile: String, locations: () -> SpecLocations) -> [Problem] {
    var problems: [Problem] = []
    func check(_ keyPath: String, _ value: Int, most: Int, _ why: String) {
      guard value > most else { return }
      problems.append(Problem(file: specFile, line: locations().line(keyPath), keyPath: keyPath, message: "is \(value), but the most is \(grouped(most)) (\(why))"))
    }
    check("engine.parallel", spec.engine.parallel, most: maxParallel, "requests in flight per server")
    check("engine.max_parallel", spec.engine.maxParallel, most: maxParallel, "requests in flight per server")
    check("engine.ready_timeout", spec.engine.readyTimeout, most: maxReadyTimeout, "30 days, in seconds")
    check("slurm.grace", spec.slurm.grace, most: maxGrace, "Slurm's --signal takes at most 65535 seconds")
    return problems
  }
}
