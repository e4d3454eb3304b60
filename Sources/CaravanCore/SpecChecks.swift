/// The checks of a parsed spec that `SpecParser` and `SpecValidator` do not make, run by
/// `caravan validate` and `caravan submit` alike (`RunPreparer.check`): duplicate variants and
/// model names. Lines are found in the spec's text only when there is a problem to report.
public enum SpecChecks {
  public static func problems(spec: JobSpec, specText: String, specFile: String) -> [Problem] {
    var cached: SpecLocations?
    let locations = {
      if let cached { return cached }
      let made = SpecLocations(text: specText)
      cached = made
      return made
    }
    return ModelChecks.problems(spec: spec, specFile: specFile, locations: locations)
      + VariantChecks.problems(spec: spec, variants: Planner.variants(for: spec), specFile: specFile, locations: locations)
  }
}
