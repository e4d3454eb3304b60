/// Variants that are the same variant twice: two with one name, or two that send the same
/// requests (same model, same options, same system prompt and Modelfile).
///
/// A name is a variant's key in records and reports, so two variants with one name cannot be
/// told apart afterwards; two with different names and the same effect only spend GPU time on
/// the same samples twice (that is what `repeats` is for). Either way the spec has a mistake in
/// it: a value listed twice in a sweep (`[0.5, 0.5]`, or `[1, 1.0]`), a copied variant, or a
/// listed variant that a sweep also makes. Both variants are named, with where each comes from.
public enum VariantChecks {
  /// Problems with `variants`, the result of `Planner.variants(for: spec)`.
  public static func problems(spec: JobSpec, variants: [Variant], specFile: String, locations: () -> SpecLocations) -> [Problem] {
    var byName: [String: Int] = [:]
    var byEffect: [Effect: Int] = [:]
    var found: [(first: Int, second: Int, sameName: Bool)] = []
    for (index, variant) in variants.enumerated() {
      if let first = byName[variant.name] {
        found.append((first, index, true))
        continue
      }
      byName[variant.name] = index
      let effect = Effect(variant)
      if let first = byEffect[effect] {
        found.append((first, index, false))
        continue
      }
      byEffect[effect] = index
    }
    guard !found.isEmpty else { return [] }
    let where_ = locations()
    // A value repeated on one axis repeats every point it is part of: report it once.
    var reportedValues: Set<String> = []
    return found.compactMap { first, second, sameName in
      let a = Origin(index: first, spec: spec), b = Origin(index: second, spec: spec)
      let nameA = variants[first].name, nameB = variants[second].name
      var message: String
      if let repeated = a.repeatedSweepValue(b, spec: spec) {
        guard reportedValues.insert(repeated).inserted else { return nil }
        message = repeated + (sameName ? ", which makes variant '\(nameB)' twice" : ", so variants '\(nameA)' and '\(nameB)' send the same requests") + "; remove one of the values"
      } else if sameName {
        message = "variant '\(nameB)' (\(b.label)) has the same name as variant '\(nameA)' (\(a.label)); names must be unique: rename or remove one"
      } else {
        message = "variants '\(nameA)' (\(a.label)) and '\(nameB)' (\(b.label)) send the same requests (\(Effect(variants[first]).summary)); remove one (for more samples of one variant, raise repeats)"
      }
      // Point at the listed variant when one of them is listed; else at the repeated sweep value.
      let keyPath = a.listed != nil && b.listed == nil ? a.keyPath(spec, other: b) : b.keyPath(spec, other: a)
      return Problem(file: specFile, line: where_.line(keyPath), keyPath: keyPath, message: message)
    }
  }

  /// What a variant's requests depend on. A Modelfile variant's model has a name of its own, so
  /// it is compared by its base model and what its Modelfile creates.
  struct Effect: Hashable {
    var model: String
    var created: JSONValue?
    var options: Options
    var system: String?
    var messages: [ChatMessage]?

    init(_ variant: Variant) {
      if case .object(var body)? = variant.create {
        body["model"] = nil
        model = variant.baseModel
        created = .object(body)
      } else {
        model = variant.model
        created = nil
      }
      options = variant.options
      system = variant.system
      messages = variant.messages
    }

    var summary: String {
      var parts = ["model \(model)"]
      if created != nil { parts[0] = "the same Modelfile on \(model)" }
      let values = options.keys.sorted().map { "\($0)=\(options[$0]?.compactDescription ?? "")" }
      parts.append(values.isEmpty ? "no options" : values.joined(separator: ", "))
      if system != nil { parts.append("the same system prompt") }
      return parts.joined(separator: ", ")
    }
  }

  /// Where a variant comes from: `variants[i]`, or one point of the sweep (listed variants come
  /// first in `Planner.variants`, then the sweep's points with the last axis varying fastest).
  struct Origin {
    var listed: Int?
    /// The value index on each sweep axis.
    var point: [Int] = []

    init(index: Int, spec: JobSpec) {
      if index < spec.variants.count {
        listed = index
        return
      }
      var rest = index - spec.variants.count
      for axis in spec.sweep.reversed() {
        let count = max(1, axis.values.count)
        point.insert(rest % count, at: 0)
        rest /= count
      }
    }

    /// `variants[i].name`, or for a sweep point the first value in which it differs from
    /// `other` (`sweep.temperature[1]`).
    func keyPath(_ spec: JobSpec, other: Origin) -> String {
      if let listed { return "variants[\(listed)].name" }
      for (axis, (mine, theirs)) in zip(spec.sweep, zip(point, other.point)) where mine != theirs {
        return "sweep.\(axis.option)[\(mine)]"
      }
      return "sweep"
    }

    var label: String { listed.map { "variants[\($0)]" } ?? "made by the sweep" }

    /// For two sweep points that differ only in values that are equal once normalised: which
    /// values those are, e.g. "sweep.temperature lists 0.5 twice (values 1 and 2)".
    func repeatedSweepValue(_ other: Origin, spec: JobSpec) -> String? {
      guard listed == nil, other.listed == nil, point.count == spec.sweep.count, other.point.count == point.count else { return nil }
      var repeats: [String] = []
      for (axis, (a, b)) in zip(spec.sweep, zip(point, other.point)) where a != b {
        guard a < axis.values.count, b < axis.values.count else { return nil }
        let first = axis.values[a].compactDescription, second = axis.values[b].compactDescription
        repeats.append(first == second
          ? "sweep.\(axis.option) lists \(first) twice (values \(a + 1) and \(b + 1))"
          : "sweep.\(axis.option) lists \(first) and \(second) (values \(a + 1) and \(b + 1)), the same \(axis.option)")
      }
      return repeats.isEmpty ? nil : repeats.joined(separator: " and ")
    }
  }
}
