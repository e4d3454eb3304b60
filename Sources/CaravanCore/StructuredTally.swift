/// Per variant, how structured answers came out: how many parse as JSON, how many satisfy the
/// format, and for each `enum` property of the variant's schema how often each label was given.
/// Fixed-size per variant and label, so it grows with neither records nor answer length.
public struct StructuredTally: Sendable, Equatable {
  /// One variant's counts.
  public struct Row: Sendable, Equatable {
    public var variant: String
    /// Records with a format (ok and error).
    public var records = 0
    public var parsed = 0
    public var valid = 0
    /// Label counts per enum property, in the schema's label order; a value outside the enum
    /// (an invalid answer) is counted under its own text after them.
    public var labels: [String: [LabelCount]] = [:]

    public var parsedShare: Double? { records > 0 ? Double(parsed) / Double(records) : nil }
    public var validShare: Double? { records > 0 ? Double(valid) / Double(records) : nil }
  }

  /// How often one label was given.
  public struct LabelCount: Sendable, Equatable {
    public var label: String
    public var count: Int
  }

  struct EnumProperty: Sendable, Equatable {
    var property: String
    var labels: [String]
  }

  public private(set) var rows: [Row]
  private let index: [String: Int]
  /// Each variant's enum properties, from its schema.
  private let enums: [String: [EnumProperty]]

  public init(variants: [Variant]) {
    var rows: [Row] = []
    var index: [String: Int] = [:]
    var enums: [String: [EnumProperty]] = [:]
    for variant in variants where index[variant.name] == nil {
      index[variant.name] = rows.count
      var row = Row(variant: variant.name)
      if let schema = variant.format.flatMap(StructuredFormat.schema) {
        let properties = schema.objectValue?["properties"]?.objectValue ?? [:]
        let found = JSONSchema.enumProperties(schema).map { name in
          EnumProperty(property: name, labels: (properties[name]?.objectValue?["enum"]?.arrayValue ?? []).map(\.compactDescription))
        }
        enums[variant.name] = found
        for property in found { row.labels[property.property] = property.labels.map { LabelCount(label: $0, count: 0) } }
      }
      rows.append(row)
    }
    self.rows = rows
    self.index = index
    self.enums = enums
  }

  /// Whether any record so far had a format (the reports show the section only then).
  public var isEmpty: Bool { rows.allSatisfy { $0.records == 0 } }

  public mutating func add(_ record: ResultRecord) {
    guard let valid = record.schemaValid, let position = index[record.variant] else { return }
    rows[position].records += 1
    if record.parsed != nil { rows[position].parsed += 1 }
    if valid { rows[position].valid += 1 }
    guard let object = record.parsed?.objectValue else { return }
    for property in (enums[record.variant] ?? []).map(\.property) {
      guard let value = object[property] else { continue }
      let label = value.compactDescription
      var counts = rows[position].labels[property] ?? []
      if let at = counts.firstIndex(where: { $0.label == label }) {
        counts[at].count += 1
      } else if counts.count < 100 {
        counts.append(LabelCount(label: label, count: 1))
      }
      rows[position].labels[property] = counts
    }
  }
}
