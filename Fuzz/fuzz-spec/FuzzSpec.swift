import CaravanCore
import Foundation

/// libFuzzer entry point: a job spec's bytes through what `caravan validate` runs on them
/// (UTF-8 decoding, SpecText's checks, SpecParser with SpecValidator, the path resolution, the
/// plan limits and the checks after them, and the plan). Any trap or hang is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSpec(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  let data = start.map { Data(bytes: $0, count: count) } ?? Data()
  guard case .success(let text) = TextLines.decode(data) else { return 0 }
  let file = "fuzz.yaml"
  guard SpecText.problems(text, file: file).isEmpty else { return 0 }
  guard let parsed = try? SpecParser.parse(text, file: file) else { return 0 }
  let spec = parsed.resolvingPaths(against: "/fuzz")
  let prompts = [Prompt(id: "p1", input: .prompt("hello"), line: 1), Prompt(id: "p2", input: .prompt("again"), variants: ["base"], line: 2)]
  guard (try? PlanLimits.check(spec: spec, prompts: prompts, specText: text, specFile: file)) != nil else { return 0 }
  let problems = Planner.unknownVariantProblems(spec: spec, prompts: prompts, file: "prompts.jsonl")
    + EngineChecks.problems(spec: spec, prompts: prompts, specFile: file, promptsFile: "prompts.jsonl")
    + SpecChecks.problems(spec: spec, specText: text, specFile: file)
  guard problems.isEmpty else { return 0 }
  _ = Planner.plan(spec: spec, prompts: prompts)
  return 0
}
