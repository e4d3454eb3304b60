import CaravanStorage
import CaravanCore
import CaravanRender
import Foundation

/// `caravan submit` up to the scheduler: read and check the spec and prompts, plan, render,
/// and write the run directory. Nothing is written unless every input is valid.
public struct RunPreparer: Sendable {
  /// Absolute path of the `caravan` executable the job will run.
  public var caravanPath: String
  /// Absolute path of `ollama-sim`, for engine kind `sim`.
  public var simulatorPath: String
  public var version: String

  public init(caravanPath: String, simulatorPath: String, version: String) {
    self.caravanPath = caravanPath
    self.simulatorPath = simulatorPath
    self.version = version
  }

  /// A run directory ready for a scheduler.
  public struct Prepared: Sendable {
    public var run: RunDirectory
    public var spec: JobSpec
    public var plan: Plan
    public var job: BatchJob
    /// Things the user should know (shards reduced, ...).
    public var notes: [String]
  }

  /// Reads, checks and plans without writing anything.
  public func load(specPath: String) throws -> (spec: JobSpec, specText: String, plan: Plan) {
    let specText = try readInput(specPath, what: "job spec")
    let spec = try SpecParser.parse(specText, file: specPath)
    let promptsPath = resolve(spec.prompts, relativeTo: specPath)
    let promptsText = try readInput(promptsPath, what: "prompt file", key: "prompts", specPath: specPath)
    let prompts = try PromptFile.parse(promptsText, file: promptsPath)
    let problems = Planner.unknownVariantProblems(spec: spec, prompts: prompts, file: promptsPath)
    guard problems.isEmpty else { throw InputError(problems) }
    return (spec, specText, Planner.plan(spec: spec, prompts: prompts))
  }

  /// Base models (the spec's, and Modelfile FROM lines) missing from `engine.models_dir`.
  public func missingModels(_ spec: JobSpec, plan: Plan) -> MissingModelsError? {
    guard let store = spec.engine.modelsDir else { return nil }
    let needed = Set(plan.variants.map(\.baseModel)).sorted()
    let missing = needed.filter { !ModelStore(path: store).contains($0) }
    return missing.isEmpty ? nil : MissingModelsError(models: missing, store: store)
  }

  /// With `checkModels`, a job whose models are not in `engine.models_dir` is refused before
  /// anything is written (a dry run passes false and reports it as a note instead).
  public func prepare(specPath: String, runDir: String?, checkModels: Bool = true, now: Date = Date()) throws -> Prepared {
    let (spec, specText, plan) = try load(specPath: specPath)
    let missing = missingModels(spec, plan: plan)
    if checkModels, let missing { throw missing }
    let runID = "\(spec.name)-\(Self.timestamp(now))-\(String(UInt32.random(in: 0...0xFFFF), radix: 16))"
    let root = absolute(runDir ?? resolve(spec.output, relativeTo: specPath) + "/" + runID)
    let layout = RunLayout(root: root)
    let job = BatchJob(spec: spec, runDir: root, shardCount: plan.shards.count, caravan: caravanPath, engineCommand: engineCommand(spec, plan: plan), origin: "\(version) from \(specPath) (run \(runID))")

    let pretty = JSONEncoder()
    pretty.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let manifest = Manifest(name: spec.name, runID: runID, createdAt: now.ISO8601Format(), caravanVersion: version, specFile: absolute(specPath), plan: plan)
    var files: [String: Data] = [
      "spec.yaml": Data(specText.utf8),
      "spec.resolved.json": try pretty.encode(spec),
      "manifest.json": try pretty.encode(manifest),
      "job.sbatch": Data(ScriptRenderer.render(job).utf8),
      "server.sh": Data(job.server.script(origin: job.origin).utf8),
    ]
    let lineEncoder = JSONLines.lineEncoder()
    for (index, items) in plan.shards.enumerated() {
      var data = Data()
      for item in items {
        data.append(try lineEncoder.encode(item))
        data.append(UInt8(ascii: "\n"))
      }
      files["shards/" + RunLayout.shardName(index)] = data
    }
    let run = try RunDirectory.create(at: layout.root, files: files)
    for script in [layout.script, layout.serverScript] {
      try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: script)
    }
    var notes: [String] = []
    if let missing { notes.append("submit would refuse this job: " + missing.description) }
    if let reduced = plan.shardsReduced {
      notes.append("slurm.shards is \(reduced.requested) but there are only \(plan.items.count) work items; using \(reduced.used) shards")
    }
    return Prepared(run: run, spec: spec, plan: plan, job: job, notes: notes)
  }

  /// The server command: the spec's, or the engine kind's default.
  func engineCommand(_ spec: JobSpec, plan: Plan) -> String {
    if let command = spec.engine.command { return command }
    switch spec.engine.kind {
    case .ollama: return "ollama serve"
    case .sim:
      let models = Set(plan.variants.map(\.baseModel)).sorted().joined(separator: ",")
      return "exec \(shellQuote(simulatorPath)) --models \(shellQuote(models))"
    }
  }

  static func timestamp(_ date: Date) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyyMMdd-HHmmss"
    return formatter.string(from: date)
  }
}

/// Reads a user-named file, turning "not found" into a located, actionable problem.
func readInput(_ path: String, what: String, key: String? = nil, specPath: String? = nil) throws -> String {
  do {
    return try String(contentsOfFile: path, encoding: .utf8)
  } catch {
    let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read as UTF-8 text" : "does not exist"
    if let key, let specPath {
      throw InputError([Problem(file: specPath, line: nil, keyPath: key, message: "the \(what) \(path) \(reason)")])
    }
    throw InputError([Problem(file: path, line: nil, message: "the \(what) \(reason)")])
  }
}

/// `relative` resolved against the folder of `file` (absolute paths pass through).
func resolve(_ relative: String, relativeTo file: String) -> String {
  if relative.hasPrefix("/") { return relative }
  let folder = URL(fileURLWithPath: file).deletingLastPathComponent().path
  return URL(fileURLWithPath: folder).appendingPathComponent(relative).standardizedFileURL.path
}

func absolute(_ path: String) -> String {
  URL(fileURLWithPath: path).standardizedFileURL.path
}
