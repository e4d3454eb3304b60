import CaravanStorage
import CaravanCore
import CaravanRender
import Foundation

/// `caravan submit` and `caravan validate` up to the scheduler, one stage at a time:
///
///     check (read the spec and prompt file, validate) -> plan -> render `RunFiles` -> write
///
/// `check` and `write` touch the file system; `plan` and `render` are pure. `prepare` runs them
/// in order, and nothing is written unless every input is valid. `Submitter` takes it from there.
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

  /// A spec and its prompts, read and checked.
  public struct Checked: Sendable {
    public var specPath: String
    /// The spec as the user wrote it.
    public var specText: String
    public var spec: JobSpec
    public var prompts: [Prompt]
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

  /// Stage 1: reads the spec and its prompt file and checks both, reporting every problem at once.
  public func check(specPath: String) throws -> Checked {
    let specText = try readInput(specPath, what: "job spec")
    try SpecText.check(specText, file: specPath)  // size, NUL bytes, alias bombs: before the parser walks it
    // Every path is resolved against the spec's folder here, once: the job runs elsewhere.
    let spec = try SpecParser.parse(specText, file: specPath).resolvingPaths(against: PathText.folder(of: absolute(specPath)))
    let promptsPath = spec.prompts
    let promptsText = try readInput(promptsPath, what: "prompt file", key: "prompts", specPath: specPath)
    let prompts = try PromptFile.parse(promptsText, file: promptsPath)
    try PlanLimits.check(spec: spec, prompts: prompts, specText: specText, specFile: specPath)  // before anything expands the plan
    let problems = Planner.unknownVariantProblems(spec: spec, prompts: prompts, file: promptsPath)
      + EngineChecks.problems(spec: spec, prompts: prompts, specFile: specPath, promptsFile: promptsPath)
      + EmbedChecks.problems(spec: spec, prompts: prompts, specFile: specPath, promptsFile: promptsPath)
      + SpecChecks.problems(spec: spec, specText: specText, specFile: specPath)
      + siteProblems(spec, specFile: specPath)
    guard problems.isEmpty else { throw InputError(SpecLocations.locating(problems, in: specPath, text: specText)) }
    return Checked(specPath: specPath, specText: specText, spec: spec, prompts: prompts)
  }

  /// Stage 2: prompts x variants x repeats, cut into shards. Pure.
  public static func plan(_ checked: Checked) -> Plan {
    Planner.plan(spec: checked.spec, prompts: checked.prompts)
  }

  /// Reads, checks and plans without writing anything (`caravan validate`).
  public func load(specPath: String) throws -> (spec: JobSpec, specText: String, plan: Plan) {
    let checked = try check(specPath: specPath)
    return (checked.spec, checked.specText, Self.plan(checked))
  }

  /// The checks that need this machine's files, run by `validate` and `submit` alike: the
  /// models in `engine.models_dir`, the image, and a folder the run directory can be written in.
  func siteProblems(_ spec: JobSpec, specFile: String) -> [Problem] {
    var problems: [Problem] = []
    func add(_ key: String, _ message: String) { problems.append(Problem(file: specFile, line: nil, keyPath: key, message: message)) }
    if let store = spec.engine.modelsDir, spec.engine.kind != .openai {
      // The spec's model and each Modelfile's FROM; compute nodes usually cannot pull.
      let needed = Set(Planner.variants(for: spec).map(\.baseModel)).sorted()
      let missing = needed.filter { !ModelStore(path: store).contains($0) }
      if !missing.isEmpty { add("engine.models_dir", MissingModelsError(models: missing, store: store).description) }
    }
    let fileManager = FileManager.default
    if spec.container.runtime == .apptainer, let image = spec.container.image, !image.isEmpty, !image.contains("://"),
      !fileManager.fileExists(atPath: image)
    {
      add("container.image", "\(image) does not exist; build it with `caravan container build --sif \(image)`, or fix the path (relative paths are read from the spec's folder)")
    }
    // The nearest folder that exists must be writable: that is where the run directory goes.
    var folder = spec.output
    while !fileManager.fileExists(atPath: folder), folder != "/" { folder = PathText.folder(of: folder) }
    var isFolder: ObjCBool = false
    if fileManager.fileExists(atPath: folder, isDirectory: &isFolder), !isFolder.boolValue {
      add("output", "\(folder) is a file, not a folder; give a folder for the run directories (it is made if missing)")
    } else if !fileManager.isWritableFile(atPath: folder) {
      add("output", "cannot write run directories under \(spec.output) (\(folder) is not writable); choose another output folder")
    }
    return problems
  }

  /// Stage 3: the job and every file of its run directory, for a run at `root`. Pure.
  public func render(_ checked: Checked, plan: Plan, runID: String, root: String, createdAt: String) throws -> (job: BatchJob, files: RunFiles) {
    let spec = checked.spec
    let job = BatchJob(
      spec: spec, runDir: root, shardCount: plan.tasks, caravan: caravanPath,
      engineCommand: engineCommand(spec, plan: plan), origin: "\(version) from \(checked.specPath) (run \(runID))",
      specDir: PathText.folder(of: absolute(checked.specPath)))
    let manifest = Manifest(name: spec.name, runID: runID, createdAt: createdAt, caravanVersion: version, specFile: absolute(checked.specPath), plan: plan)
    return (job, try RunFiles(specText: checked.specText, spec: spec, plan: plan, job: job, manifest: manifest))
  }

  /// Stage 4: writes the run directory atomically, its scripts executable, with the modes
  /// `permissions` gives (what is written into it later takes its folder's: `RunFileModes`).
  public static func write(_ files: RunFiles, at root: String, permissions: RunPermissions = RunPermissions()) throws -> RunDirectory {
    try RunDirectory.create(
      at: root, files: files.files, streamed: files.shardFiles.map { ($0.path, $0.write) }, executables: Set(files.executables), permissions: permissions)
  }

  /// Every stage in order; nothing is written unless every check passed.
  ///
  /// `calibration: N` makes a calibration run instead (`caravan estimate --calibrate N`): the
  /// spec's first N prompts, in one shard, named `<name>-calibration-...`.
  public func prepare(specPath: String, runDir: String?, calibration: Int? = nil, now: Date = Date()) throws -> Prepared {
    var checked = try check(specPath: specPath)
    if let calibration {
      checked.prompts = Array(checked.prompts.prefix(max(1, calibration)))
      checked.spec.slurm.shards = 1
    }
    let plan = Self.plan(checked)
    let name = checked.spec.name + (calibration == nil ? "" : "-calibration")
    let runID = "\(name)-\(Self.timestamp(now))-\(String(UInt32.random(in: 0...0xFFFF), radix: 16))"
    let root = absolute(runDir ?? checked.spec.output + "/" + runID)
    if TextLines.hasControl(root) {  // it is a line of job.sbatch (#SBATCH --chdir, --output)
      throw InputError([Problem(file: checked.specPath, line: nil, keyPath: "--run-dir", message: "the run directory \(root.debugDescription) has a line break or another control character; choose one without")])
    }
    let (job, files) = try render(checked, plan: plan, runID: runID, root: root, createdAt: now.ISO8601Format())
    let run = try Self.write(files, at: root, permissions: RunPermissions(checked.spec))
    var notes: [String] = []
    if let reduced = plan.shardsReduced {
      notes.append("slurm.shards is \(reduced.requested) but there are only \(plan.items.count) work items; using \(reduced.used) shards")
    }
    return Prepared(run: run, spec: checked.spec, plan: plan, job: job, notes: notes)
  }

  /// The server command: the spec's, or the engine kind's default.
  func engineCommand(_ spec: JobSpec, plan: Plan) -> String {
    if let command = spec.engine.command { return command }
    switch spec.engine.kind {
    case .ollama: return "ollama serve"
    case .openai: return ""  // refused by `EngineChecks`: these servers have no common command
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

/// Reads a user-named file, turning "not found" or "not UTF-8" into a located, actionable problem.
func readInput(_ path: String, what: String, key: String? = nil, specPath: String? = nil) throws -> String {
  do {
    return try String(contentsOfFile: path, encoding: .utf8)
  } catch {
    var line: Int?
    var reason = "does not exist"
    if FileManager.default.fileExists(atPath: path) {
      reason = "cannot be read"
      if let data = FileManager.default.contents(atPath: path), case .failure(let bad) = TextLines.decode(data) {
        line = bad.line
        reason = "is not UTF-8 text: byte \(bad.column) of line \(bad.line) is not valid UTF-8 (save the file as UTF-8)"
      }
    }
    if let key, let specPath {
      throw InputError([Problem(file: specPath, line: nil, keyPath: key, message: "the \(what) \(path)\(line.map { ":\($0)" } ?? "") \(reason)")])
    }
    throw InputError([Problem(file: path, line: line, message: "the \(what) \(reason)")])
  }
}

func absolute(_ path: String) -> String {
  URL(fileURLWithPath: path).standardizedFileURL.path
}
