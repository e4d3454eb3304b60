/// Checks that need the whole spec: names, ranges, combinations, and Modelfile text.
enum SpecValidator {
  /// An environment variable name that holds a credential by convention (HF_TOKEN,
  /// OPENAI_API_KEY, AWS_SECRET_ACCESS_KEY, DB_PASSWORD, ...): one of its `_` parts says so.
  static func looksSecret(_ name: String) -> Bool {
    let secretWords: Set<String> = ["TOKEN", "KEY", "APIKEY", "SECRET", "PASSWORD", "PASSWD", "PASS", "CREDENTIAL", "CREDENTIALS", "AUTH"]
    return name.uppercased().split(separator: "_").contains { secretWords.contains(String($0)) }
  }

  /// `NAME=value` or `export NAME=value` at the start of a shell line: the name and the value.
  static func literalAssignment(_ line: String) -> (String, String)? {
    var rest = line.drop { $0 == " " || $0 == "\t" }
    if rest.hasPrefix("export ") { rest = rest.dropFirst("export ".count).drop { $0 == " " } }
    guard let equals = rest.firstIndex(of: "="), isEnvName(String(rest[..<equals])) else { return nil }
    return (String(rest[..<equals]), String(rest[rest.index(after: equals)...]))
  }

  static func problems(in spec: JobSpec, locations: [String: Int], file: String) -> [Problem] {
    var problems: [Problem] = []
    func add(_ path: String, _ message: String, line: Int? = nil) {
      problems.append(Problem(file: file, line: line ?? nearestLocation(path, locations), keyPath: path, message: message))
    }

    if !isSafeName(spec.name) {
      add("name", "'\(spec.name)' may only use letters, digits, '-' and '_' (it names the Slurm job and the run directory)")
    }
    if spec.repeats < 1 { add("repeats", "must be at least 1, got \(spec.repeats)") }
    if spec.engine.parallel < 1 { add("engine.parallel", "must be at least 1 (or auto), got \(spec.engine.parallel)") }
    if spec.engine.maxParallel < 1 { add("engine.max_parallel", "must be at least 1, got \(spec.engine.maxParallel)") }
    if spec.engine.readyTimeout < 1 { add("engine.ready_timeout", "must be at least 1 second") }
    if !(1...2_592_000).contains(spec.engine.requestTimeout) {
      add("engine.request_timeout", "must be between 1 second and 30 days (2592000), got \(spec.engine.requestTimeout)")
    }
    if spec.engine.maxRestarts < 0 { add("engine.max_restarts", "must be 0 or more, got \(spec.engine.maxRestarts)") }
    if spec.engine.telemetryInterval < 0 || (1..<100).contains(spec.engine.telemetryInterval) {
      add("engine.telemetry_interval", "must be 0 (off) or at least 100 milliseconds, got \(spec.engine.telemetryInterval)")
    }
    for name in spec.engine.env.keys.sorted() where !isEnvName(name) {
      add("engine.env.\(name)", "'\(name)' is not a valid environment variable name")
    }
    for name in spec.engine.env.keys.sorted() where isEnvName(name) && looksSecret(name) {
      add("engine.env.\(name)", "'\(name)' looks like a secret, and a value in the spec is copied into the run directory (server.sh, spec.resolved.json, the spec itself), where anyone who can read the run can read it; remove it and export \(name) where you submit: the job and its server inherit it (with container.flags --cleanenv or --containall, export APPTAINERENV_\(name))")
    }
    if spec.slurm.shards < 1 { add("slurm.shards", "must be at least 1, got \(spec.slurm.shards)") }
    if spec.slurm.gpusPerNode < 0 { add("slurm.gpus_per_node", "must be 0 or more, got \(spec.slurm.gpusPerNode)") }
    if let cpus = spec.slurm.cpusPerTask, cpus < 1 { add("slurm.cpus_per_task", "must be at least 1, got \(cpus)") }
    if spec.slurm.maxRequeues < 0 { add("slurm.max_requeues", "must be 0 (off) or more, got \(spec.slurm.maxRequeues)") }
    if let running = spec.slurm.maxRunning, running < 1 { add("slurm.max_running", "must be at least 1, got \(running)") }
    if let size = spec.slurm.chunkSize, size < 1 { add("slurm.chunk_size", "must be at least 1 item, got \(size)") }
    if spec.slurm.chunkSize != nil, spec.slurm.resolvedDistribution == .static {
      add("slurm.chunk_size", "applies to slurm.distribution dynamic only; remove it, or set distribution: dynamic")
    }
    if spec.slurm.claimTimeout < 5 { add("slurm.claim_timeout", "must be at least 5 seconds (a task heartbeats its chunks every sixth of it), got \(spec.slurm.claimTimeout)") }
    if spec.slurm.layout == .nodes, spec.slurm.distribution == .static, spec.slurm.shards > 1 {
      add("slurm.distribution", "a layout: nodes job claims its chunks dynamically; remove distribution: static, or use layout: array")
    }
    if spec.slurm.layout == .nodes, spec.slurm.maxRunning != nil {
      add("slurm.max_running", "applies to layout: array only (a layout: nodes job starts all its nodes at once); remove it")
    }
    if spec.slurm.grace < 10 { add("slurm.grace", "must be at least 10 seconds, so in-flight requests can finish") }
    if let time = spec.slurm.time, !SlurmTime.isUnlimited(time), SlurmTime.minutes(time) == nil {
      add("slurm.time", "'\(time)' is not a Slurm time; use MM, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS")
    }
    if let time = spec.slurm.time, let seconds = SlurmTime.seconds(time), seconds > 0, spec.slurm.grace >= seconds {
      add("slurm.grace", "\(spec.slurm.grace) s is not shorter than slurm.time (\(time) = \(seconds) s): Slurm would send the stop signal before the job starts; lower slurm.grace or raise slurm.time")
    }
    for (name, value) in spec.engine.env where name == "OLLAMA_HOST" {
      var address = Substring(value)
      for scheme in ["http://", "https://"] where address.hasPrefix(scheme) { address = address.dropFirst(scheme.count) }
      let host = address.hasPrefix("[") ? String(address.prefix { $0 != "]" }) + "]" : String(address.prefix { $0 != ":" })
      if !["127.0.0.1", "localhost", "[::1]"].contains(host) {
        add("engine.env.OLLAMA_HOST", "'\(value)' would let the server listen beyond this node (anyone on the network could use it); remove it: Caravan binds each server to 127.0.0.1 on a port of its own")
      }
    }
    if let mem = spec.slurm.mem, SlurmMemory.megabytes(mem) == nil {
      add("slurm.mem", "'\(mem)' is not a Slurm memory size; use a number with an optional K, M, G or T suffix (e.g. 32G)")
    }
    // Values that become one line of job.sbatch or server.sh (an #SBATCH option, a path): a line
    // break there would end the line, and bash would run the rest as a command.
    var singleLine: [(String, String)] = [("output", spec.output), ("prompts", spec.prompts)]
    singleLine += [("engine.models_dir", spec.engine.modelsDir), ("slurm.partition", spec.slurm.partition), ("slurm.account", spec.slurm.account),
      ("slurm.qos", spec.slurm.qos), ("container.image", spec.container.image)].compactMap { key, value in value.map { (key, $0) } }
    singleLine += spec.container.flags.enumerated().map { ("container.flags[\($0)]", $1) }
    singleLine += spec.container.binds.enumerated().map { ("container.binds[\($0)]", $1) }
    for (key, value) in singleLine where TextLines.hasControl(value) {
      add(key, "has a line break or another control character; it becomes one line of the job script, so write it on one line")
    }
    // Setup lines are shell on purpose, but one that assigns a secret a literal value puts it in
    // job.sbatch and the spec copy; reading it from a file or the environment is fine.
    for (index, line) in spec.slurm.setup.enumerated() {
      guard let (name, value) = literalAssignment(line), looksSecret(name), !value.hasPrefix("$"), !value.hasPrefix("\"$") else { continue }
      add("slurm.setup[\(index)]", "sets \(name) to a literal value, which would be copied into job.sbatch and spec.yaml in the run directory; export \(name) where you submit instead (the job inherits it), or read it here from a file only you can read: export \(name)=$(cat ~/.secrets/\(name.lowercased()))")
    }
    for (index, line) in spec.slurm.extra.enumerated() where !line.hasPrefix("-") || TextLines.hasControl(line) {
      add("slurm.extra[\(index)]", "'\(line)' should be one sbatch option such as --constraint=a100 (without '#SBATCH')")
    }
    if spec.container.runtime == .apptainer, (spec.container.image ?? "").isEmpty {
      add("container.image", "runtime apptainer needs the path of the .sif image (build one with `caravan container build`), or set container.runtime: none")
    }

    var names: Set<String> = []
    var createdModels: [String: String] = [:]
    for (index, variant) in spec.variants.enumerated() {
      let path = "variants[\(index)]"
      if !isVariantName(variant.name) {
        add("\(path).name", "'\(variant.name)' may only use letters, digits, '-', '_', '.', '=' and ','")
      } else if !names.insert(variant.name).inserted {
        add("\(path).name", "variant name '\(variant.name)' is used twice; names must be unique")
      }
      if let text = variant.modelfile {
        let created = Planner.createdModelName(job: spec.name, variant: variant.name)
        if let other = createdModels[created], other != variant.name {
          add("\(path).name", "variants '\(other)' and '\(variant.name)' would both create the Ollama model '\(created)' (names differ only in case or punctuation); rename one")
        }
        createdModels[created] = variant.name
        if !variant.options.isEmpty {
          add(path, "give either options or modelfile, not both (put the options in the Modelfile as PARAMETER lines)")
        }
        let firstLine = locations["\(path).modelfile.body"] ?? locations["\(path).modelfile"]
        switch Modelfile.parse(text) {
        case .success(let modelfile):
          if modelfile.from == nil { add("\(path).modelfile", "the Modelfile needs a FROM line naming the base model", line: firstLine) }
        case .failure(let found):
          for problem in found.problems {
            add("\(path).modelfile", problem.message, line: firstLine.map { $0 + (problem.line ?? 1) - 1 })
          }
        }
      }
    }
    for axis in spec.sweep where axis.values.isEmpty == false {
      for name in Planner.sweepVariantNames(spec.sweep) where names.contains(name) {
        add("sweep.\(axis.option)", "sweep variant '\(name)' has the same name as a listed variant")
      }
      break
    }
    return problems
  }

  /// The line of `path`, or of the closest enclosing key that was written (`container` for a
  /// missing `container.image`).
  static func nearestLocation(_ path: String, _ locations: [String: Int]) -> Int? {
    var current = Substring(path)
    while !current.isEmpty {
      if let line = locations[String(current)] { return line }
      guard let cut = current.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
      current = current[..<cut]
    }
    return nil
  }

  static func isSafeName(_ name: String) -> Bool {
    !name.isEmpty && name.count <= 64 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
  }

  static func isVariantName(_ name: String) -> Bool {
    !name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.=,".contains($0)) }
  }

  static func isEnvName(_ name: String) -> Bool {
    guard let first = name.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
    return name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
  }

}

extension String {
  func trimmingWhitespace() -> String {
    String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
  }
}

