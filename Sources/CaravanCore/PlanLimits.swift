/// How many variants and work items a spec makes, counted arithmetically (with overflow checks)
/// before `Planner` expands anything, and refused above `InputLimits`.
///
/// `Planner.variants` builds the sweep's whole cartesian product and `Planner.plan` every item,
/// so an unbounded `repeats` or a long sweep would exhaust memory (or overflow a count and trap)
/// before any check saw the result.
public enum PlanLimits {
  /// Throws when the spec makes more than `InputLimits.maxVariants` variants or
  /// `InputLimits.maxItems` work items, naming the keys that multiply to that.
  public static func check(spec: JobSpec, prompts: [Prompt], specText: String, specFile: String) throws(InputError) {
    if let problem = problem(spec: spec, prompts: prompts, specFile: specFile, locations: { SpecLocations(text: specText) }) {
      throw InputError([problem])
    }
  }

  /// The variants `Planner.variants` makes, or nil when that is more than `limit`.
  public static func variantCount(_ spec: JobSpec, limit: Int = InputLimits.maxVariants) -> Int? {
    guard !spec.sweep.isEmpty else { return max(1, spec.variants.count) <= limit ? max(1, spec.variants.count) : nil }
    guard let points = sweepPointCount(spec.sweep, limit: limit) else { return nil }
    let total = points + spec.variants.count
    return total <= limit ? total : nil
  }

  /// The number of points in the sweep's cartesian product, or nil when that is more than
  /// `limit` (the product is never formed, so it cannot overflow).
  public static func sweepPointCount(_ sweep: [SweepAxis], limit: Int = InputLimits.maxVariants) -> Int? {
    var product = 1
    for axis in sweep {
      let (next, overflow) = product.multipliedReportingOverflow(by: axis.values.count)
      guard !overflow, next <= limit else { return nil }
      product = next
    }
    return product
  }

  static func problem(spec: JobSpec, prompts: [Prompt], specFile: String, locations: () -> SpecLocations) -> Problem? {
    let maxVariants = InputLimits.maxVariants, maxItems = InputLimits.maxItems
    guard let variants = variantCount(spec) else {
      let factors = spec.sweep.map { "\($0.option) (\(grouped($0.values.count)) values)" }.joined(separator: " × ")
      let product = spec.sweep.reduce(1) { $0.multipliedSaturating(by: $1.values.count) }
      var count = product == .max ? "more than \(grouped(.max - 1))" : grouped(product)
      if !spec.variants.isEmpty { count += " + \(grouped(spec.variants.count)) listed" }
      let message = spec.sweep.isEmpty
        ? "\(grouped(spec.variants.count)) variants are listed; the most is \(grouped(maxVariants)) (split the job into several specs)"
        : "the sweep makes \(factors) = \(count) variants; the most is \(grouped(maxVariants)) (sweep fewer values, or split the job into several specs)"
      let key = spec.sweep.isEmpty ? "variants" : "sweep"
      return Problem(file: specFile, line: locations().line(key), keyPath: key, message: message)
    }
    // Prompts that name their variants run only those (unknown names are reported elsewhere).
    let names = Set(spec.sweep.isEmpty ? spec.variants.map(\.name) : spec.variants.map(\.name) + Planner.sweepVariantNames(spec.sweep))
    var pairs = 0
    var filtered = false
    for prompt in prompts {
      if let chosen = prompt.variants {
        filtered = true
        pairs += Set(chosen).intersection(names).count
      } else {
        pairs += variants
      }
    }
    let repeats = max(1, spec.repeats)
    let (items, overflow) = pairs.multipliedReportingOverflow(by: repeats)
    guard overflow || items > maxItems else { return nil }
    let count = overflow ? "more than \(grouped(.max))" : grouped(items)
    // Factors as the user wrote them (repeats 1000000), the product grouped for reading.
    let factors = filtered
      ? "repeats \(repeats) × \(pairs) prompt-variant pairs (\(prompts.count) prompts, \(variants) variants; some prompts name their own)"
      : "repeats \(repeats) × \(variants) variant\(variants == 1 ? "" : "s") × \(prompts.count) prompt\(prompts.count == 1 ? "" : "s")"
    // Blame the key that multiplies most: repeats, else the variants, else the prompt file.
    let key = repeats > 1 ? "repeats" : variants > 1 ? (spec.sweep.isEmpty ? "variants" : "sweep") : "prompts"
    return Problem(
      file: specFile, line: locations().line(key), keyPath: key,
      message: "\(factors) = \(count) items; the most is \(grouped(maxItems)) (lower repeats, or split the prompts or variants over several specs)")
  }
}
