/// What `caravan submit` records about a run, read back by the worker, `status` and `collect`.
public struct Manifest: Sendable, Equatable, Codable {
  public var schema: Int = JobSpec.schemaVersion
  public var name: String
  public var runID: String
  public var createdAt: String
  public var caravanVersion: String
  public var specFile: String
  public var totalItems: Int
  public var shards: [ShardInfo]
  public var variants: [Variant]

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
  }

  enum CodingKeys: String, CodingKey {
    case schema, name, shards, variants
    case runID = "run_id"
    case createdAt = "created_at"
    case caravanVersion = "caravan_version"
    case specFile = "spec_file"
    case totalItems = "total_items"
  }
}
