import CaravanCore
import Foundation

/// A batch job as libslurm's job description must state it: one value per sbatch option.
///
/// sbatch reads the `#SBATCH` lines of the script itself; libslurm does not, so every option
/// must be set as a job_desc_msg_t field. The job's own settings come field by field from
/// `BatchJob`; only `slurm.extra`, which the user writes as sbatch options, is parsed from text.
/// An extra option with no field is refused rather than dropped. Pure Swift: `LibSlurm` copies
/// the result into C.
public struct SlurmJobRequest: Sendable, Equatable {
  /// `--time`: minutes, or no limit.
  public enum TimeLimit: Sendable, Equatable {
    case minutes(Int)
    case unlimited
  }

  /// `--signal=[B:]SIG[@seconds]`: a signal sent that long before the time limit.
  public struct Warning: Sendable, Equatable {
    public var signal: Int32
    public var seconds: Int
    /// `B:`: only the batch shell gets it (job steps do not).
    public var batchShellOnly: Bool
  }

  /// `--open-mode`.
  public enum OpenMode: String, Sendable, Equatable {
    case append, truncate
  }

  /// `--exclusive[=user|mcs]`.
  public enum Exclusive: String, Sendable, Equatable {
    case node, user, mcs
  }

  /// One `--mail-type` value.
  public enum MailType: String, Sendable, Equatable, CaseIterable {
    case none = "NONE", begin = "BEGIN", end = "END", fail = "FAIL", requeue = "REQUEUE", all = "ALL"
    case timeLimit = "TIME_LIMIT", timeLimit90 = "TIME_LIMIT_90", timeLimit80 = "TIME_LIMIT_80"
    case timeLimit50 = "TIME_LIMIT_50", stageOut = "STAGE_OUT", arrayTasks = "ARRAY_TASKS"
  }

  public var name: String?
  /// `--array`, as written (`0-2`).
  public var arrayIndices: String?
  public var partition: String?
  public var account: String?
  public var qos: String?
  public var timeLimit: TimeLimit?
  public var minNodes: Int?
  public var maxNodes: Int?
  public var tasks: Int?
  /// `--ntasks-per-node`.
  public var tasksPerNode: Int?
  /// `--gres`, in the form sbatch 22.05 sends (`gres:gpu:2`).
  public var tresPerNode: String?
  public var cpusPerTask: Int?
  /// `--mem`, in megabytes (sbatch's rounding: K rounds up).
  public var memoryPerNodeMB: UInt64?
  public var warning: Warning?
  public var requeue: Bool?
  public var openMode: OpenMode?
  /// `--output`/`--error`: patterns such as `%A_%a` are expanded by Slurm, not here.
  public var standardOutput: String?
  public var standardError: String?
  public var workingDirectory: String?
  public var features: String?
  public var exclusive: Exclusive?
  public var mailTypes: [MailType]?
  public var mailUser: String?
  public var comment: String?
  public var excludedNodes: String?
  public var requiredNodes: String?
  public var reservation: String?
  public var dependency: String?
  public var killOnInvalidDependency: Bool?
  public var licenses: String?
  public var wckey: String?
  public var nice: Int?
  public var hold = false
  /// `--begin`, as written; libslurm's own parser reads it (`now+1hour`, `16:00`, ...).
  public var begin: String?

  public init() {}

  /// The request for `job`: its fields, then `slurm.extra` (later options win, as in sbatch).
  /// Throws one `SchedulerError` naming every option that libslurm cannot be given.
  public init(_ job: BatchJob) throws {
    self.init()
    name = job.name
    let nodes = job.slurm.layout == .nodes
    arrayIndices = nodes ? nil : job.arrayIndices
    partition = job.slurm.partition
    account = job.slurm.account
    qos = job.slurm.qos
    var refused: [String] = []
    if let time = job.slurm.time {
      if SlurmTime.isUnlimited(time) {
        timeLimit = .unlimited
      } else if let minutes = SlurmTime.minutes(time) {
        timeLimit = .minutes(minutes)
      } else {
        refused.append("slurm.time '\(time)': is not a Slurm time")
      }
    }
    minNodes = nodes ? job.shardCount : 1
    maxNodes = minNodes
    tasks = minNodes
    if nodes { tasksPerNode = 1 }
    tresPerNode = job.gres.map { "gres:\($0)" }
    cpusPerTask = job.slurm.cpusPerTask
    if let mem = job.slurm.mem {
      if let megabytes = SlurmMemory.megabytes(mem) { memoryPerNodeMB = megabytes } else { refused.append("slurm.mem '\(mem)': is not a Slurm memory size") }
    }
    warning = Warning(signal: SIGTERM, seconds: job.slurm.grace, batchShellOnly: !nodes)
    requeue = true
    openMode = .append
    standardOutput = job.outputPattern
    workingDirectory = job.runDir
    for (index, line) in job.slurm.extra.enumerated() {
      let (option, value) = Self.split(line)
      do { try apply(option: option, value: value) } catch {
        refused.append("slurm.extra[\(index)] '\(line)': \(error.reason)")
      }
    }
    guard refused.isEmpty else {
      throw SchedulerError(
        "libslurm cannot be given every sbatch option of this job, and nothing was submitted:\n"
          + refused.map { "  \($0)" }.joined(separator: "\n")
          + "\nlibslurm does not read #SBATCH lines, so Caravan sets each option as a job field and knows only "
          + Self.knownOptions.joined(separator: ", ")
          + ". Submit with `--scheduler sbatch` to let sbatch read these options from job.sbatch.")
    }
  }

  /// The long options this request understands (short forms: -A -a -b -C -c -D -d -e -H -J -L -N -n -o -p -q -t -w -x).
  public static let knownOptions = [
    "--job-name", "--array", "--partition", "--account", "--qos", "--time", "--nodes", "--ntasks", "--ntasks-per-node", "--gres",
    "--cpus-per-task", "--mem", "--signal", "--requeue", "--no-requeue", "--open-mode", "--output", "--error",
    "--chdir", "--constraint", "--exclusive", "--mail-type", "--mail-user", "--comment", "--exclude",
    "--nodelist", "--reservation", "--dependency", "--kill-on-invalid-dep", "--licenses", "--wckey", "--nice",
    "--hold", "--begin",
  ]

  private static let shortOptions: [Character: String] = [
    "A": "--account", "a": "--array", "b": "--begin", "C": "--constraint", "c": "--cpus-per-task", "D": "--chdir",
    "d": "--dependency", "e": "--error", "H": "--hold", "J": "--job-name", "L": "--licenses", "N": "--nodes",
    "n": "--ntasks", "o": "--output", "p": "--partition", "q": "--qos", "t": "--time", "w": "--nodelist",
    "x": "--exclude",
  ]

  struct OptionProblem: Error {
    var reason: String
  }

  /// `--opt=value`, `--opt value`, `-Xvalue`, `-X value` or a bare flag, as sbatch reads an `#SBATCH` line.
  static func split(_ line: String) -> (option: String, value: String?) {
    let text = line.trimmingCharacters(in: .whitespaces)
    var option: String
    var value: String?
    if text.hasPrefix("--") {
      if let equals = text.firstIndex(of: "=") {
        option = String(text[..<equals])
        value = String(text[text.index(after: equals)...])
      } else if let space = text.firstIndex(where: \.isWhitespace) {
        option = String(text[..<space])
        value = String(text[space...]).trimmingCharacters(in: .whitespaces)
      } else {
        option = text
      }
    } else {
      option = String(text.prefix(2))
      let rest = text.dropFirst(2).trimmingCharacters(in: .whitespaces)
      value = rest.isEmpty ? nil : rest
      if let letter = option.dropFirst().first, let long = shortOptions[letter] { option = long }
    }
    if let raw = value, raw.count >= 2, raw.first == "\"", raw.last == "\"" { value = String(raw.dropFirst().dropLast()) }
    return (option, value)
  }

  mutating func apply(option: String, value: String?) throws(OptionProblem) {
    func required() throws(OptionProblem) -> String {
      guard let value, !value.isEmpty else { throw OptionProblem(reason: "needs a value") }
      return value
    }
    func count(atLeast minimum: Int = 0) throws(OptionProblem) -> Int {
      guard let number = Int(try required()), number >= minimum else { throw OptionProblem(reason: "is not a whole number >= \(minimum)") }
      return number
    }
    switch option {
    case "--job-name": name = try required()
    case "--array": arrayIndices = try required()
    case "--partition": partition = try required()
    case "--account": account = try required()
    case "--qos": qos = try required()
    case "--time":
      let text = try required()
      if SlurmTime.isUnlimited(text) {
        timeLimit = .unlimited
      } else if let minutes = SlurmTime.minutes(text) {
        timeLimit = .minutes(minutes)
      } else {
        throw OptionProblem(reason: "is not a Slurm time")
      }
    case "--nodes":
      let parts = try required().split(separator: "-", omittingEmptySubsequences: false)
      guard (1...2).contains(parts.count), let low = Int(parts[0]), let high = Int(parts.last!), low >= 1, high >= low else {
        throw OptionProblem(reason: "must be N or N-M")
      }
      minNodes = low
      maxNodes = high
    case "--ntasks": tasks = try count(atLeast: 1)
    case "--ntasks-per-node": tasksPerNode = try count(atLeast: 1)
    case "--gres":
      let items = try required().split(separator: ",").map { $0.hasPrefix("gres:") ? String($0) : "gres:\($0)" }
      tresPerNode = items == ["gres:none"] ? nil : items.joined(separator: ",")
    case "--cpus-per-task": cpusPerTask = try count(atLeast: 1)
    case "--mem":
      guard let megabytes = SlurmMemory.megabytes(try required()) else { throw OptionProblem(reason: "is not a Slurm memory size") }
      memoryPerNodeMB = megabytes
    case "--signal": warning = try Self.warning(try required())
    case "--requeue": requeue = true
    case "--no-requeue": requeue = false
    case "--open-mode":
      guard let mode = OpenMode(rawValue: try required().lowercased()) else { throw OptionProblem(reason: "must be append or truncate") }
      openMode = mode
    case "--output": standardOutput = try required()
    case "--error": standardError = try required()
    case "--chdir": workingDirectory = try required()
    case "--constraint": features = try required()
    case "--exclusive":
      guard let mode = Exclusive(rawValue: value ?? "node") else { throw OptionProblem(reason: "must be --exclusive, --exclusive=user or --exclusive=mcs") }
      exclusive = mode
    case "--mail-type":
      var types: [MailType] = []
      for item in try required().split(separator: ",") {
        guard let type = MailType(rawValue: item.uppercased()) else {
          throw OptionProblem(reason: "'\(item)' is not one of \(MailType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        types.append(type)
      }
      mailTypes = types
    case "--mail-user": mailUser = try required()
    case "--comment": comment = try required()
    case "--exclude": excludedNodes = try required()
    case "--nodelist": requiredNodes = try required()
    case "--reservation": reservation = try required()
    case "--dependency": dependency = try required()
    case "--kill-on-invalid-dep":
      switch try required().lowercased() {
      case "yes": killOnInvalidDependency = true
      case "no": killOnInvalidDependency = false
      default: throw OptionProblem(reason: "must be yes or no")
      }
    case "--licenses": licenses = try required()
    case "--wckey": wckey = try required()
    case "--nice":
      guard let number = Int(value ?? "100"), abs(number) <= 2_147_483_645 else { throw OptionProblem(reason: "is not a whole number") }
      nice = number
    case "--hold": hold = true
    case "--begin": begin = try required()
    default:
      throw OptionProblem(reason: "Caravan does not map this option to a libslurm job field")
    }
  }

  /// Parses sbatch's `--signal` value: `[R|B:]SIG[@seconds]`, seconds defaulting to 60.
  static func warning(_ text: String) throws(OptionProblem) -> Warning {
    var rest = Substring(text)
    var batchOnly = false
    if let colon = rest.firstIndex(of: ":") {
      let prefix = rest[..<colon]
      guard prefix == "B" else { throw OptionProblem(reason: "only the B: prefix is supported (R: needs --scheduler sbatch)") }
      batchOnly = true
      rest = rest[rest.index(after: colon)...]
    }
    var seconds = 60
    if let at = rest.firstIndex(of: "@") {
      guard let value = Int(rest[rest.index(after: at)...]), (0...0xffff).contains(value) else {
        throw OptionProblem(reason: "the time after @ must be whole seconds")
      }
      seconds = value
      rest = rest[..<at]
    }
    guard let signal = signalNumber(String(rest)) else { throw OptionProblem(reason: "'\(rest)' is not a signal name or number") }
    return Warning(signal: signal, seconds: seconds, batchShellOnly: batchOnly)
  }

  /// Linux signal numbers by name (with or without `SIG`), as sbatch accepts them.
  static func signalNumber(_ text: String) -> Int32? {
    if let number = Int32(text), (1...64).contains(number) { return number }
    let name = text.uppercased().hasPrefix("SIG") ? String(text.uppercased().dropFirst(3)) : text.uppercased()
    let names: [String: Int32] = [
      "HUP": 1, "INT": 2, "QUIT": 3, "ABRT": 6, "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13,
      "ALRM": 14, "TERM": 15, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23,
      "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "PWR": 30,
    ]
    return names[name]
  }
}
