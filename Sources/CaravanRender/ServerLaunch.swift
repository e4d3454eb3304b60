import CaravanCore

/// How the inference server is started on the node: the one place that knows the container
/// invocation (`apptainer exec ...`) and the server's environment.
public struct ServerLaunch: Sendable, Equatable {
  public var runtime: JobSpec.Container.Runtime
  public var image: String
  /// `apptainer exec` flags from the spec (`--nv` by default, or `--nvccli`, `--containall`, ...).
  public var flags: [String]
  public var binds: [String]
  /// The engine command line (`ollama serve`, or the simulator).
  public var command: String
  public var modelsDir: String?
  public var parallel: Int
  public var env: [String: String]

  public init(runtime: JobSpec.Container.Runtime, image: String, flags: [String], binds: [String], command: String, modelsDir: String?, parallel: Int, env: [String: String]) {
    self.runtime = runtime
    self.image = image
    self.flags = flags
    self.binds = binds
    self.command = command
    self.modelsDir = modelsDir
    self.parallel = parallel
    self.env = env
  }

  /// Defaults for a batch server, each overridable through `engine.env`:
  /// - OLLAMA_KEEP_ALIVE=-1: never unload the model between requests of a batch.
  /// - OLLAMA_NOPRUNE=1: several servers may share one model store; none may prune it.
  /// - OLLAMA_LOAD_TIMEOUT=30m: a first load from NFS or Lustre can exceed the default 5 minutes.
  static let batchDefaults: [(String, String)] = [
    ("OLLAMA_KEEP_ALIVE", "-1"),
    ("OLLAMA_NOPRUNE", "1"),
    ("OLLAMA_LOAD_TIMEOUT", "30m"),
  ]

  /// Server environment, in a stable order. OLLAMA_HOST and HOME are not here: they need
  /// $PORT and $SERVER_HOME, and are passed explicitly by `commandLines()`.
  public var environment: [(String, String)] {
    var list: [(String, String)] = [("OLLAMA_NUM_PARALLEL", String(parallel))]
    list += Self.batchDefaults.filter { env[$0.0] == nil }
    if let modelsDir { list.append(("OLLAMA_MODELS", modelsDir)) }
    for name in env.keys.sorted() { list.append((name, env[name]!)) }
    return list
  }

  /// `--containall` and `--cleanenv` drop host variables, CUDA_VISIBLE_DEVICES (Slurm's GPU choice) among them.
  var dropsHostEnvironment: Bool {
    flags.contains { ["--containall", "-C", "--cleanenv", "-e", "--contain"].contains($0) }
  }

  /// Shell lines that start the server in the background, its output appended to $SERVER_LOG.
  /// They expect PORT, SERVER_HOME, SERVER_LOG and RUN_DIR to be set.
  public func commandLines() -> [String] {
    switch runtime {
    case .none:
      var lines = ["env \\", "  \"HOME=$SERVER_HOME\" \\"]
      for (name, value) in environment { lines.append("  \(shellQuote("\(name)=\(value)")) \\") }
      lines.append("  setsid bash -c \(shellQuote(command)) >>\"$SERVER_LOG\" 2>&1 &")
      return lines
    case .apptainer:
      var lines: [String] = []
      if dropsHostEnvironment {
        lines.append("# \(flags.joined(separator: " ")) drops host variables: pass Slurm's GPU choice on explicitly.")
        lines.append("gpu_env=()")
        lines.append("if [ -n \"${CUDA_VISIBLE_DEVICES:-}\" ]; then gpu_env=(--env \"CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES\"); fi")
      }
      lines.append("# --env beats the image's ENV (which sets OLLAMA_HOST=0.0.0.0) and the host's variables.")
      lines.append("setsid apptainer exec \(flags.map(shellQuote).joined(separator: " ")) \\")
      lines.append("  --home \"$SERVER_HOME\" \\")
      lines.append("  --env \"OLLAMA_HOST=127.0.0.1:$PORT\" \\")
      for (name, value) in environment { lines.append("  --env \(shellQuote("\(name)=\(value)")) \\") }
      if dropsHostEnvironment { lines.append("  ${gpu_env[@]+\"${gpu_env[@]}\"} \\") }
      if let modelsDir { lines.append("  --bind \(shellQuote(modelsDir)) \\") }
      lines.append("  --bind \"$RUN_DIR\" \\")
      for bind in binds { lines.append("  --bind \(shellQuote(bind)) \\") }
      let command = self.command == "ollama serve" ? "ollama serve" : "bash -c \(shellQuote(self.command))"
      lines.append("  \(shellQuote(image)) \(command) >>\"$SERVER_LOG\" 2>&1 &")
      return lines
    }
  }
}
