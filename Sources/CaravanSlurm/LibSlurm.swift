#if LibSlurm
  import CSlurm
  import CaravanCore
  import Foundation

  #if canImport(Glibc)
    import Glibc
  #endif

  /// Slurm through libslurm, inside this process: submit, query and cancel without sbatch,
  /// squeue or scancel.
  ///
  /// libslurm does not read `#SBATCH` lines, so the job description is filled field by field from
  /// the same `BatchJob` that renders them (through `SlurmJobRequest`), and the script's text is
  /// sent as it is. Every libslurm call is a blocking RPC: all of them run one at a time on one
  /// serial dispatch queue (libslurm keeps process-wide state), never on a Swift concurrency thread.
  public struct LibSlurm: Scheduler {
    public var kind: Submission.Scheduler { .libslurm }
    /// The slurm.conf libslurm is started with (the first one wins for the whole process).
    public let configuration: SlurmConfiguration

    public init(configuration: SlurmConfiguration = SlurmConfiguration()) {
      self.configuration = configuration
    }

    public func submit(_ job: BatchJob, scriptPath: String) async throws -> String {
      let request = try SlurmJobRequest(job)
      let script: String
      do {
        script = try String(contentsOfFile: scriptPath, encoding: .utf8)
      } catch {
        throw SchedulerError("cannot read the job script \(scriptPath): \(error.localizedDescription)")
      }
      let environment = SubmitEnvironment.current(for: request)
      let configuration = configuration
      let jobID = try await SlurmQueue.run(configuration) {
        try SlurmCalls.submit(request: request, script: script, scriptPath: scriptPath, environment: environment, configuration: configuration)
      }
      return String(jobID)
    }

    /// Every array task of the job as slurmctld sees it now (`slurm_load_job`). A job that
    /// finished more than MinJobAge ago is gone: that throws a `SlurmError` with code 2017.
    public func jobState(jobID: String) async throws -> SlurmJobState {
      let id = try Self.numericID(jobID)
      let configuration = configuration
      return try await SlurmQueue.run(configuration) { try SlurmCalls.loadJob(id, configuration: configuration) }
    }

    /// MaxArraySize from slurmctld's configuration (`slurm_load_ctl_conf`).
    public func maxArraySize() async -> Int? {
      let configuration = configuration
      return try? await SlurmQueue.run(configuration) { () -> Int? in
        var conf: UnsafeMutablePointer<slurm_conf_t>?
        guard slurm_load_ctl_conf(0, &conf) == 0, let conf else { return nil }
        defer { slurm_free_ctl_conf(conf) }
        return Int(conf.pointee.max_array_sz)
      }
    }

    /// Cancels the job, every array task of it (`slurm_kill_job` with SIGKILL, as scancel does).
    public func cancel(jobID: String) async throws {
      let id = try Self.numericID(jobID)
      let configuration = configuration
      try await SlurmQueue.run(configuration) { try SlurmCalls.cancel(id, configuration: configuration) }
    }

    static func numericID(_ text: String) throws -> UInt32 {
      guard let id = UInt32(text), id > 0 else {
        throw SchedulerError("'\(text)' is not a Slurm job id (libslurm takes the numeric id of the whole job, e.g. 1234)")
      }
      return id
    }
  }

  /// The one place libslurm runs: a serial queue (its own thread, not the cooperative pool),
  /// started once per process. slurm_fini is not called: libslurm's state lives as long as the
  /// process, and tearing it down while another task may still query would be the riskier choice.
  enum SlurmQueue {
    static let queue = DispatchQueue(label: "caravan.libslurm")
    /// Touched only on `queue`.
    nonisolated(unsafe) static var started = false

    static func run<T: Sendable>(_ configuration: SlurmConfiguration, _ body: @escaping @Sendable () throws -> T) async throws -> T {
      try await withCheckedThrowingContinuation { continuation in
        queue.async {
          continuation.resume(
            with: Result {
              try start(configuration)
              return try body()
            })
        }
      }
    }

    /// `slurm_init` with the file Caravan checked. It is never called without a readable
    /// slurm.conf: libslurm then retries for a minute and exits the whole process.
    private static func start(_ configuration: SlurmConfiguration) throws {
      if started { return }
      guard configuration.isReadable() else { throw configuration.missingError }
      // The path, not NULL: libslurm would read an empty SLURM_CONF as a file name.
      slurm_init(configuration.path)
      started = true
    }
  }

  /// C strings and arrays lent to one libslurm request; all freed together when it is dropped.
  final class CAllocations {
    private var strings: [UnsafeMutablePointer<CChar>] = []
    private var arrays: [UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>] = []

    func copy(_ text: String) -> UnsafeMutablePointer<CChar> {
      guard let copy = strdup(text) else { fatalError("out of memory") }
      strings.append(copy)
      return copy
    }

    func string(_ text: String?) -> UnsafeMutablePointer<CChar>? {
      text.map { copy($0) }
    }

    /// A NULL-terminated `char **` of copies of `texts`.
    func array(_ texts: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
      let array = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: texts.count + 1)
      for (index, text) in texts.enumerated() { array[index] = copy(text) }
      array[texts.count] = nil
      arrays.append(array)
      return array
    }

    deinit {
      strings.forEach { free($0) }
      arrays.forEach { $0.deallocate() }
    }
  }

  /// The libslurm calls themselves; run only on `SlurmQueue.queue`.
  enum SlurmCalls {
    static func submit(request: SlurmJobRequest, script: String, scriptPath: String, environment: [String], configuration: SlurmConfiguration) throws -> UInt32 {
      let memory = CAllocations()
      var description = job_desc_msg_t()
      slurm_init_job_desc_msg(&description)
      fill(&description, from: request, memory: memory)
      if let begin = request.begin {
        let time = slurm_parse_time(begin, 0)
        guard time != 0 else {
          throw SlurmError(code: 0, message: "--begin '\(begin)' is not a time Slurm can read", operation: "submit job \(request.name ?? "")", advice: "Use a form sbatch takes: now+1hour, 16:00, 2026-01-20T12:00:00, midnight, tomorrow.")
        }
        description.begin_time = time
      }
      description.script = memory.copy(script)
      // Required: without an environment slurmctld fails the job with errno 2019, "I/O error
      // writing script/environment to file".
      description.environment = memory.array(environment)
      description.env_size = UInt32(environment.count)
      // Like sbatch: the script path is the job's command (scontrol's Command=).
      description.argv = memory.array([scriptPath])
      description.argc = 1
      description.user_id = getuid()
      description.group_id = getgid()

      var response: UnsafeMutablePointer<submit_response_msg_t>?
      // `memory` owns every string in `description`: it must outlive the call (ARC may otherwise
      // free it right after its last use above).
      let (status, code) = withExtendedLifetime(memory) {
        let status = slurm_submit_batch_job(&description, &response)
        return (status, slurm_get_errno())
      }
      defer { if let response { slurm_free_submit_response_response_msg(response) } }
      let operation = "submit job \(request.name ?? "")"
      guard status == 0, let response else {
        throw failure(code, operation: operation, request: request, configuration: configuration)
      }
      // A job id with an error_code is still a job: slurmctld reports e.g. 2042 "Job is in held
      // state" for --hold, as information (sbatch says nothing either).
      guard response.pointee.job_id != 0 else {
        throw failure(Int32(bitPattern: response.pointee.error_code), operation: operation, request: request, configuration: configuration)
      }
      return response.pointee.job_id
    }

    /// Copies the request into the C description; strings belong to `memory`.
    static func fill(_ description: inout job_desc_msg_t, from request: SlurmJobRequest, memory: CAllocations) {
      description.name = memory.string(request.name)
      description.array_inx = memory.string(request.arrayIndices)
      description.partition = memory.string(request.partition)
      description.account = memory.string(request.account)
      description.qos = memory.string(request.qos)
      switch request.timeLimit {
      case .minutes(let minutes): description.time_limit = UInt32(clamping: minutes)
      case .unlimited: description.time_limit = caravan_infinite()
      case nil: break
      }
      if let nodes = request.minNodes { description.min_nodes = UInt32(clamping: nodes) }
      if let nodes = request.maxNodes { description.max_nodes = UInt32(clamping: nodes) }
      if let tasks = request.tasks {
        description.num_tasks = UInt32(clamping: tasks)
        description.bitflags |= caravan_job_ntasks_set()
      }
      if let perNode = request.tasksPerNode { description.ntasks_per_node = UInt16(clamping: perNode) }
      if let cpus = request.cpusPerTask {
        description.cpus_per_task = UInt16(clamping: cpus)
        description.bitflags |= caravan_job_cpus_set()
      }
      // sbatch asks for tasks × cpus-per-task CPUs in all.
      description.min_cpus = UInt32(clamping: (request.tasks ?? 1).multipliedSaturating(by: request.cpusPerTask ?? 1))
      description.tres_per_node = memory.string(request.tresPerNode)
      if let megabytes = request.memoryPerNodeMB { description.pn_min_memory = megabytes }
      if let warning = request.warning {
        description.warn_signal = UInt16(clamping: warning.signal)
        description.warn_time = UInt16(clamping: warning.seconds)
        description.warn_flags = warning.batchShellOnly ? caravan_kill_job_batch() : 0
      }
      if let requeue = request.requeue { description.requeue = requeue ? 1 : 0 }
      switch request.openMode {
      case .append: description.open_mode = caravan_open_mode_append()
      case .truncate: description.open_mode = caravan_open_mode_truncate()
      case nil: break
      }
      description.std_out = memory.string(request.standardOutput)
      description.std_err = memory.string(request.standardError)
      // Without a work_dir the job runs in /tmp; sbatch's default is the submitting directory.
      description.work_dir = memory.copy(request.workingDirectory ?? FileManager.default.currentDirectoryPath)
      description.features = memory.string(request.features)
      switch request.exclusive {
      case .node: description.shared = caravan_job_shared_none()
      case .user: description.shared = caravan_job_shared_user()
      case .mcs: description.shared = caravan_job_shared_mcs()
      case nil: break
      }
      if let types = request.mailTypes { description.mail_type = mailFlags(types) }
      description.mail_user = memory.string(request.mailUser)
      description.comment = memory.string(request.comment)
      description.exc_nodes = memory.string(request.excludedNodes)
      description.req_nodes = memory.string(request.requiredNodes)
      description.reservation = memory.string(request.reservation)
      description.dependency = memory.string(request.dependency)
      switch request.killOnInvalidDependency {
      case true?: description.bitflags |= caravan_kill_inv_dep()
      case false?: description.bitflags |= caravan_no_kill_inv_dep()
      case nil: break
      }
      description.licenses = memory.string(request.licenses)
      description.wckey = memory.string(request.wckey)
      if let nice = request.nice {
        description.nice = UInt32(truncatingIfNeeded: Int64(caravan_nice_offset()) + Int64(nice))
      }
      // --hold: priority 0 is a user hold.
      if request.hold { description.priority = 0 }
    }

    static func mailFlags(_ types: [SlurmJobRequest.MailType]) -> UInt16 {
      var flags: UInt16 = 0
      for type in types {
        switch type {
        case .none: flags = 0
        case .begin: flags |= caravan_mail_begin()
        case .end: flags |= caravan_mail_end()
        case .fail: flags |= caravan_mail_fail()
        case .requeue: flags |= caravan_mail_requeue()
        case .all: flags |= caravan_mail_begin() | caravan_mail_end() | caravan_mail_fail() | caravan_mail_requeue() | caravan_mail_stage_out()
        case .timeLimit: flags |= caravan_mail_time100()
        case .timeLimit90: flags |= caravan_mail_time90()
        case .timeLimit80: flags |= caravan_mail_time80()
        case .timeLimit50: flags |= caravan_mail_time50()
        case .stageOut: flags |= caravan_mail_stage_out()
        case .arrayTasks: flags |= caravan_mail_array_tasks()
        }
      }
      return flags
    }

    static func loadJob(_ id: UInt32, configuration: SlurmConfiguration) throws -> SlurmJobState {
      var message: UnsafeMutablePointer<job_info_msg_t>?
      let status = caravan_load_job(id, &message)
      let code = slurm_get_errno()
      defer { if let message { slurm_free_job_info_msg(message) } }
      guard status == 0, let message else { throw failure(code, operation: "load job \(id)", request: nil, configuration: configuration) }
      var tasks: [SlurmJobState.Task] = []
      for index in 0..<Int(message.pointee.record_count) {
        let job = message.pointee.job_array[index]
        let noValue = caravan_no_val()
        tasks.append(
          SlurmJobState.Task(
            jobID: Int(job.job_id),
            arrayJobID: job.array_job_id == 0 ? nil : Int(job.array_job_id),
            arrayTaskID: job.array_job_id == 0 || job.array_task_id == noValue ? nil : Int(job.array_task_id),
            pendingArrayTasks: job.array_task_id == noValue ? text(job.array_task_str) : nil,
            state: String(cString: slurm_job_state_string(job.job_state)),
            reason: String(cString: slurm_job_reason_string(job_state_reason(rawValue: UInt32(job.state_reason)))),
            nodes: text(job.nodes),
            exitCode: Int((job.exit_code >> 8) & 0xff),
            exitSignal: Int(job.exit_code & 0x7f),
            restarts: Int(job.restart_cnt)))
      }
      return SlurmJobState(jobID: String(id), tasks: tasks)
    }

    static func cancel(_ id: UInt32, configuration: SlurmConfiguration) throws {
      guard caravan_kill_job(id, UInt16(SIGKILL), 0) == 0 else {
        throw failure(slurm_get_errno(), operation: "cancel job \(id)", request: nil, configuration: configuration)
      }
    }

    static func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
      guard let pointer else { return nil }
      let value = String(cString: pointer)
      return value.isEmpty ? nil : value
    }

    /// The typed error for `code`, with advice gathered from slurmctld where it helps.
    static func failure(_ code: Int32, operation: String, request: SlurmJobRequest?, configuration: SlurmConfiguration) -> SlurmError {
      let message = String(cString: slurm_strerror(code))
      var advice: String?
      switch code {
      case SlurmError.invalidPartition:
        advice = SlurmError.partitionAdvice(requested: request?.partition, partitions: partitions())
      case SlurmError.nodeConfigurationUnavailable:
        advice = SlurmError.resourceAdvice(request: request ?? SlurmJobRequest(), nodes: nodes())
      case SlurmError.invalidJobID:
        advice = SlurmError.purgedJobAdvice
      case SlurmError.writingScriptOrEnvironment:
        advice = "slurmctld could not store the job's script or environment (check StateSaveLocation's free space), or the request had no environment."
      case let code where SlurmError.isCommunicationFailure(code):
        advice = SlurmError.controllerAdvice(configuration: configuration)
      case let code where SlurmError.isAuthenticationFailure(code):
        advice = SlurmError.authenticationAdvice(configuration: configuration)
      default:
        break
      }
      return SlurmError(code: code, message: message, operation: operation, advice: advice)
    }

    /// Every partition, for advice; empty when they cannot be loaded.
    static func partitions() -> [SlurmError.Partition] {
      var message: UnsafeMutablePointer<partition_info_msg_t>?
      guard caravan_load_partitions(&message) == 0, let message else { return [] }
      defer { slurm_free_partition_info_msg(message) }
      return (0..<Int(message.pointee.record_count)).compactMap { index in
        let partition = message.pointee.partition_array[index]
        return text(partition.name).map { SlurmError.Partition(name: $0, isDefault: partition.flags & caravan_part_flag_default() != 0) }
      }
    }

    /// Every node with its GRES, CPUs and memory, for advice; empty when they cannot be loaded.
    static func nodes() -> [SlurmError.Node] {
      var message: UnsafeMutablePointer<node_info_msg_t>?
      guard caravan_load_nodes(&message) == 0, let message else { return [] }
      defer { slurm_free_node_info_msg(message) }
      return (0..<Int(message.pointee.record_count)).compactMap { index in
        let node = message.pointee.node_array[index]
        return text(node.name).map { SlurmError.Node(name: $0, gres: text(node.gres), cpus: Int(node.cpus), memoryMB: node.real_memory) }
      }
    }
  }
#endif
