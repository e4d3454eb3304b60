/// What `caravan submit` records about a run, read back by the worker, `status` and `collect`.
public struct Manifest: Sendable, Equatable, Codable {
  public var schema: Int = JobSpec.schemaVersion
  public var name: String
  public var runID: String
  public var createdAt: String
  public var caravanVersion: String
  public var specFile: String
  public var totalItems: Int
  /// The plan in shard files: one a task with static distribution, the chunks tasks claim with dynamic.
  public var shards: [ShardInfo]
  public var variants: [Variant]
  /// How tasks get their shards; runs written before dynamic distribution are static.
  public var distribution: JobSpec.Slurm.Distribution = .static
  /// Array tasks (or nodes) the job runs; nil in runs written before it was recorded: one a shard.
  public var tasks: Int?

  /// Tasks the job runs: with static distribution task i runs shard i.
  public var taskCount: Int { tasks ?? shards.count }

  /// One shard: Slurm array task `index` runs `items` work items.
  public struct ShardInfo: Sendable, Equatable, Codable {
    public var index: Int
    public var items: Int
    public init(index: Int, items: Int) {
      self.index = index
      self.items = items
    }
  }

  public init(name: String, runID: String, createdAt: String, caravanVersion: String, specFile: String, plan: Plan) {
    self.name = name
    self.runID = runID
    self.createdAt = createdAt
    self.caravanVersion = caravanVersion
    self.specFile = specFile
    self.totalItems = plan.items.count
    self.shards = plan.shards.enumerated().map { ShardInfo(index: $0.offset, items: $0.element.count) }
    self.variants = plan.variants
    self.tasks = plan.tasks
    self.distribution = plan.distribution
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    schema = try container.decode(Int.self, forKey: .schema)
    name = try container.decode(String.self, forKey: .name)
    runID = try container.decode(String.self, forKey: .runID)
    createdAt = try container.decode(String.self, forKey: .createdAt)
    caravanVersion = try container.decode(String.self, forKey: .caravanVersion)
    specFile = try container.decode(String.self, forKey: .specFile)
    totalItems = try container.decode(Int.self, forKey: .totalItems)
    shards = try container.decode([ShardInfo].self, forKey: .shards)
    variants = try container.decode([Variant].self, forKey: .variants)
    distribution = try container.decodeIfPresent(JobSpec.Slurm.Distribution.self, forKey: .distribution) ?? .static
    tasks = try container.decodeIfPresent(Int.self, forKey: .tasks)
  }

  enum CodingKeys: String, CodingKey {
    case schema, name, shards, variants, distribution, tasks
    case runID = "run_id"
    case createdAt = "created_at"
    case caravanVersion = "caravan_version"
    case specFile = "spec_file"
    case totalItems = "total_items"
  }
}
