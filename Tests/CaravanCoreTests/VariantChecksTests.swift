@testable import CaravanCore
import Testing

/// The same variant twice is refused before submit, naming both; `caravan collect` trapped on
/// such a run (its statistics keyed variants by name, uniquely).
@Suite("Duplicate variants")
struct VariantChecksTests {
  /// The spec's problems from `SpecChecks`, after the parser has accepted it.
  func problems(_ text: String) throws -> [Problem] {
    let spec = try SpecParser.parse(text, file: "job.yaml")
    return SpecChecks.problems(spec: spec, specText: text, specFile: "job.yaml")
  }

  /// Problems of a spec built in code, past any check of the parser's.
  func problems(_ spec: JobSpec) -> [Problem] {
    SpecChecks.problems(spec: spec, specText: "", specFile: "job.yaml")
  }

  @Test("a sweep value listed twice names the axis, both values and the variant")
  func repeatedSweepValue() throws {
    let text = minimalSpec + "sweep:\n  temperature: [0.5, 0.7, 0.5]\n"
    let found = try problems(text)
    #expect(found.count == 1)
    #expect(found.first?.keyPath == "sweep.temperature[2]")
    #expect(found.first?.line == line(of: "temperature:", in: text))
    #expect(found.first?.message == "sweep.temperature lists 0.5 twice (values 1 and 3), which makes variant 'temperature=0.5' twice; remove one of the values")
  }

  @Test("1 and 1.0 are one temperature: both variant names are given")
  func equalNumbers() throws {
    let found = try problems(minimalSpec + "sweep:\n  temperature: [1, 1.0]\n")
    #expect(found.map(\.message) == ["sweep.temperature lists 1 and 1.0 (values 1 and 2), the same temperature, so variants 'temperature=1' and 'temperature=1.0' send the same requests; remove one of the values"])
  }

  @Test("a value repeated on one axis of a two-axis sweep is reported once")
  func repeatedValueOnceAcrossTheProduct() throws {
    let found = try problems(minimalSpec + "sweep:\n  temperature: [0.5, 0.7]\n  top_k: [3, 3]\n")
    #expect(found.map(\.keyPath) == ["sweep.top_k[1]"])
  }

  @Test("two listed variants with the same options name both")
  func sameOptions() throws {
    let text = minimalSpec + "variants:\n  - {name: a, options: {temperature: 0.5}}\n  - {name: b, options: {temperature: 0.5}}\n"
    let found = try problems(text)
    #expect(found.count == 1)
    #expect(found.first?.keyPath == "variants[1].name")
    #expect(found.first?.line == line(of: "name: b", in: text))
    #expect(found.first?.message.contains("variants 'a' (variants[0]) and 'b' (variants[1]) send the same requests (model gemma:7b, temperature=0.5)") == true)
  }

  @Test("two Modelfiles that create the same model name both")
  func sameModelfile() throws {
    let modelfile = "    modelfile: |\n      FROM gemma:7b\n      PARAMETER temperature 0.5\n"
    let found = try problems(minimalSpec + "variants:\n  - name: a\n" + modelfile + "  - name: b\n" + modelfile)
    #expect(found.map(\.message) == ["variants 'a' (variants[0]) and 'b' (variants[1]) send the same requests (the same Modelfile on gemma:7b, temperature=0.5); remove one (for more samples of one variant, raise repeats)"])
  }

  @Test("a Modelfile variant and an options variant differ (one creates a model of its own)")
  func modelfileAndOptionsDiffer() throws {
    let text = minimalSpec + "variants:\n  - {name: a, options: {temperature: 0.5}}\n  - name: b\n    modelfile: |\n      FROM gemma:7b\n      PARAMETER temperature 0.5\n"
    #expect(try problems(text).isEmpty)
  }

  @Test("two listed variants with one name, and a listed variant a sweep also makes, are refused (built past the parser)")
  func sameNames() {
    var spec = JobSpec(name: "demo", model: "gemma:7b", prompts: "p.jsonl")
    spec.container.runtime = .none
    spec.variants = [VariantSpec(name: "a", options: ["temperature": .double(0.5)]), VariantSpec(name: "a", options: ["temperature": .double(0.7)])]
    #expect(problems(spec).map(\.message) == ["variant 'a' (variants[1]) has the same name as variant 'a' (variants[0]); names must be unique: rename or remove one"])

    spec.variants = [VariantSpec(name: "temperature=0.5", options: ["top_k": .int(3)])]
    spec.sweep = [SweepAxis(option: "temperature", values: [.double(0.5), .double(0.7)])]
    let found = problems(spec)
    #expect(found.map(\.keyPath) == ["variants[0].name"])
    #expect(found.first?.message.contains("variant 'temperature=0.5' (made by the sweep) has the same name as variant 'temperature=0.5' (variants[0])") == true)
  }

  @Test("variants that differ in anything are fine", arguments: [
    "sweep:\n  temperature: [0.1, 0.5, 1.0]\n  top_k: [3, 40]\n",
    "variants:\n  - {name: a, options: {temperature: 0.5}}\n  - {name: b, options: {temperature: 0.5, seed: 1}}\n",
    "variants:\n  - {name: a}\n  - {name: b, options: {top_k: 3}}\nsweep:\n  temperature: [0.1]\n",
  ])
  func distinct(variants: String) throws {
    #expect(try problems(minimalSpec + variants).isEmpty)
  }
}
