import Yams

/// One key of a spec section, declared once: its name, the property it sets, how its YAML value
/// is read, and how the resolved spec (`spec.resolved.json`) encodes and decodes it.
///
/// A section's table of fields is the only list of its keys: the parser's allowed keys (and its
/// "did you mean" suggestions), the resolved spec's JSON keys and the required keys all come from
/// it. A key's default is its property's initial value, written nowhere else; a key left out of
/// the file, or of an older resolved spec, keeps it.
struct SpecField<Section>: Sendable {
  /// The key as the user writes it (snake_case); also its JSON key in the resolved spec.
  let key: String
  /// For a key the spec must give (name, model, prompts): what to write, said when it is
  /// missing, null or empty. Nil for a key with a default.
  let requirement: String?
  /// Reads a non-null YAML value into the section, reporting what is wrong at `path`.
  let read: @Sendable (_ reader: inout NodeReader, _ node: Node, _ path: String, _ section: inout Section) -> Void
  let decode: @Sendable (KeyedDecodingContainer<SpecCodingKey>, inout Section) throws -> Void
  let encode: @Sendable (Section, inout KeyedEncodingContainer<SpecCodingKey>) throws -> Void
}

extension SpecField {
  /// A key with a default, read as its type reads (a number, text, a list, a choice, a section).
  init<Value: SpecValue>(_ key: String, _ property: any WritableKeyPath<Section, Value> & Sendable) {
    self.init(key, property) { reader, node, path in Value.read(&reader, node, path) }
  }

  /// A key with a default whose YAML form differs from its JSON one (variants, sweep, options):
  /// `read` converts the node.
  init<Value: Codable & Sendable>(
    _ key: String, _ property: any WritableKeyPath<Section, Value> & Sendable,
    read: @escaping @Sendable (_ reader: inout NodeReader, _ node: Node, _ path: String) -> Value?
  ) {
    self.init(
      key: key, requirement: nil,
      read: { reader, node, path, section in
        if let value = read(&reader, node, path) { section[keyPath: property] = value }
      },
      decode: { container, section in
        if let value = try container.decodeIfPresent(Value.self, forKey: SpecCodingKey(key)) { section[keyPath: property] = value }
      },
      encode: { section, container in try container.encode(section[keyPath: property], forKey: SpecCodingKey(key)) }
    )
  }

  /// A key that is unset (nil) by default and whose YAML form `read` converts (a variant's
  /// `format`): read and decoded as above, but left out of the resolved spec while unset.
  init<Value: Codable & Sendable>(
    _ key: String, optional property: any WritableKeyPath<Section, Value?> & Sendable,
    read: @escaping @Sendable (_ reader: inout NodeReader, _ node: Node, _ path: String) -> Value?
  ) {
    let converted = SpecField(key, property) { reader, node, path in read(&reader, node, path).map(Optional.some) }
    self.init(
      key: key, requirement: nil, read: converted.read, decode: converted.decode,
      encode: { section, container in try container.encodeIfPresent(section[keyPath: property], forKey: SpecCodingKey(key)) }
    )
  }

  /// A key that is unset (nil) by default; the resolved spec leaves it out while it is unset.
  init<Value: SpecValue>(_ key: String, _ property: any WritableKeyPath<Section, Value?> & Sendable) {
    self.init(
      key: key, requirement: nil,
      read: { reader, node, path, section in
        if let value = Value.read(&reader, node, path) { section[keyPath: property] = value }
      },
      decode: { container, section in
        if let value = try container.decodeIfPresent(Value.self, forKey: SpecCodingKey(key)) { section[keyPath: property] = value }
      },
      encode: { section, container in try container.encodeIfPresent(section[keyPath: property], forKey: SpecCodingKey(key)) }
    )
  }

  /// A key the spec must give, as non-empty text; `requirement` says what to write. A resolved
  /// spec without it does not decode.
  init(required key: String, _ property: any WritableKeyPath<Section, String> & Sendable, _ requirement: String) {
    self.init(
      key: key, requirement: requirement,
      read: { reader, node, path, section in
        guard let text = reader.string(node, path) else { return }
        if text.trimmingWhitespace().isEmpty {
          reader.report(node, path, "is empty; \(requirement)")
        } else {
          section[keyPath: property] = text
        }
      },
      decode: { container, section in section[keyPath: property] = try container.decode(String.self, forKey: SpecCodingKey(key)) },
      encode: { section, container in try container.encode(section[keyPath: property], forKey: SpecCodingKey(key)) }
    )
  }
}

/// A mapping of spec keys (the top level, `engine`, `slurm`, `container`, each variant), declared
/// by one table of fields.
protocol SpecSection: SpecValue {
  /// Every key allowed here, in the order the README lists them.
  static var fields: [SpecField<Self>] { get }
  /// Every key at its default; a required key empty until the file gives it.
  init()
}

extension SpecSection {
  static func read(_ reader: inout NodeReader, _ node: Node, _ path: String) -> Self? {
    reader.section(node, path, Self.self)
  }

  /// Decodes the resolved spec's keys through the table. A key that is not there keeps its
  /// default, so a run directory written by an older Caravan, before the key existed, still reads
  /// (a requeued job may be run by a newer `caravan worker`).
  init(fieldsFrom decoder: any Decoder) throws {
    self.init()
    let container = try decoder.container(keyedBy: SpecCodingKey.self)
    for field in Self.fields { try field.decode(container, &self) }
  }

  /// Encodes every key through the table, under the names the user writes.
  func encodeFields(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: SpecCodingKey.self)
    for field in Self.fields { try field.encode(self, &container) }
  }
}

/// A type a spec key can hold: read from YAML through `NodeReader` (so problems keep their
/// `file:line: key.path:`), and Codable for the resolved spec.
protocol SpecValue: Codable, Sendable {
  /// The value of a non-null node, or nil after reporting why it is not one.
  static func read(_ reader: inout NodeReader, _ node: Node, _ path: String) -> Self?
}

extension Int: SpecValue {
  static func read(_ reader: inout NodeReader, _ node: Node, _ path: String) -> Int? { reader.int(node, path) }
}

extension Bool: SpecValue {
  static func read(_ reader: inout NodeReader, _ node: Node, _ path: String) -> Bool? { reader.bool(node, path) }
}

extension String: SpecValue {
  static func read(_ reader: inout NodeReader, _ node: Node, _ path: String) -> String? { reader.string(node, path) }
}

extension Array: SpecValue where Element == String {
  static func read(_ reader: inout NodeReader, _ node: Node, _ path: String) -> [String]? { reader.strings(node, path) }
}

extension Dictionary: SpecValue where Key == String, Value == String {
  static func read(_ reader: inout NodeReader, _ node: Node, _ path: String) -> [String: String]? { reader.stringMap(node, path) }
}

/// A key that takes one of a few names (`engine.kind: ollama`); a wrong one lists them all.
protocol SpecChoice: SpecValue, RawRepresentable, CaseIterable where RawValue == String {}

extension SpecChoice {
  static func read(_ reader: inout NodeReader, _ node: Node, _ path: String) -> Self? { reader.choice(node, path, Self.self) }
}

/// A spec key as a JSON key of the resolved spec.
struct SpecCodingKey: CodingKey {
  let stringValue: String
  var intValue: Int? { nil }
  init(_ key: String) { stringValue = key }
  init?(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { nil }
}
