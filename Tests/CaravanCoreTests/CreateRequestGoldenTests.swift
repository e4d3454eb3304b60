@testable import CaravanCore
import CaravanTestSupport
import Foundation
import Testing

/// What the worker sends to `/api/create` for a Modelfile, kept as golden files a person can read
/// beside Ollama's "Create a Model" documentation. Re-record with CARAVAN_RECORD_SNAPSHOTS=1.
@Suite("Create request goldens")
struct CreateRequestGoldenTests {
  static let snapshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")

  /// The keys of today's `/api/create` request (api/types.go `CreateRequest`) that a Modelfile can
  /// produce. `modelfile` is not among them: Ollama removed it in v0.5.5.
  static let documentedKeys: Set<String> = [
    "model", "from", "parameters", "system", "template", "messages", "license", "stream", "files", "adapters", "quantize",
  ]

  /// A body as its golden holds it: indented, keys sorted, ending in a newline.
  static func pretty(_ body: JSONValue) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(body), as: UTF8.self) + "\n"
  }

  /// Compares `body` with its golden, then checks the golden file itself against Ollama's documented shape.
  static func check(_ body: JSONValue, golden name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let golden = snapshots.appendingPathComponent(name)
    let mismatch = try goldenMismatch(try pretty(body), golden: golden)
    #expect(mismatch == nil, "\(mismatch ?? "")", sourceLocation: sourceLocation)
    let recorded = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: golden))
    for problem in try shapeProblems(recorded) {
      Issue.record("\(name): \(problem)", sourceLocation: sourceLocation)
    }
  }

  /// How a body differs from `Tests/Fixtures/ollama/create-request.json`: a key Ollama does not
  /// document, a documented key with another JSON type than the example's, or a parameter whose
  /// value is not of the type Ollama's options take (num_ctx an integer, temperature a number,
  /// stop a list of strings).
  static func shapeProblems(_ body: JSONValue) throws -> [String] {
    let example = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: TestPaths.ollamaExample("create-request.json")))
    guard let fields = body.objectValue, let exampleFields = example.objectValue else { return ["not a JSON object"] }
    var problems: [String] = []
    for key in fields.keys.sorted() where !documentedKeys.contains(key) {
      problems.append("key '\(key)' is not part of Ollama's create request")
    }
    for (key, value) in fields {
      if let documented = exampleFields[key], kind(of: value) != kind(of: documented) {
        problems.append("'\(key)' is \(kind(of: value)), the documented example has \(kind(of: documented))")
      }
    }
    for required in ["model", "from"] where fields[required]?.stringValue == nil {
      problems.append("'\(required)' is missing")
    }
    for (name, value) in fields["parameters"]?.objectValue ?? [:] {
      switch OllamaOptions.known[name] {
      case .number?: if value.doubleValue == nil { problems.append("parameter '\(name)' should be a number, not \(value)") }
      case .integer?: if case .int = value {} else { problems.append("parameter '\(name)' should be a whole number, not \(value)") }
      case .boolean?: if value.boolValue == nil { problems.append("parameter '\(name)' should be true or false, not \(value)") }
      case .stopList?:
        if !(value.arrayValue.map { $0.allSatisfy { $0.stringValue != nil } } ?? false) {
          problems.append("parameter 'stop' should be a list of strings, not \(value)")
        }
      case nil: problems.append("parameter '\(name)' is not an Ollama option")
      }
    }
    if let messages = fields["messages"] {
      let valid = messages.arrayValue?.allSatisfy { $0.objectValue.map { Set($0.keys) } == ["role", "content"] } ?? false
      if !valid { problems.append("'messages' should be a list of {role, content}") }
    }
    return problems
  }

  static func kind(of value: JSONValue) -> String {
    switch value {
    case .null: return "null"
    case .bool: return "a boolean"
    case .int, .double: return "a number"
    case .string: return "a string"
    case .array: return "a list"
    case .object: return "an object"
    }
  }

  /// The Modelfile variants of a job spec in jobs/, with the bodies the worker will send.
  static func modelfileVariants(_ file: String) throws -> [Variant] {
    let path = TestPaths.packageRoot.appendingPathComponent("jobs/\(file)")
    let spec = try SpecParser.parse(try String(contentsOf: path, encoding: .utf8), file: file)
    return Planner.variants(for: spec).filter { $0.create != nil }
  }

  @Test("the tutorial's four Modelfiles (jobs/tutorial.yaml)", arguments: ["low-temp", "high-temp", "top-k-3", "top-k-200"])
  func tutorial(variant: String) throws {
    let found = try Self.modelfileVariants("tutorial.yaml").first { $0.name == variant }
    let body = try #require(found?.create, "jobs/tutorial.yaml has no Modelfile variant '\(variant)'")
    try Self.check(body, golden: "create-tutorial-\(variant).json.golden")
  }

  @Test("jobs/tutorial-sim.yaml sends the same bodies, under its own model names")
  func localTutorialMatches() throws {
    let cluster = try Self.modelfileVariants("tutorial.yaml")
    let local = try Self.modelfileVariants("tutorial-sim.yaml")
    #expect(local.map(\.name) == cluster.map(\.name))
    for (a, b) in zip(cluster, local) {
      var body = try #require(b.create?.objectValue)
      #expect(body["model"] == .string("caravan-tutorial-sim-\(b.name)"))
      body["model"] = a.create?["model"]
      #expect(JSONValue.object(body) == a.create, "variant \(b.name)")
    }
  }

  /// Modelfiles that use the rest of the syntax, named by what they exercise.
  static let modelfiles: [String: String] = [
    "stop-repeated": """
      FROM llama3.2
      PARAMETER stop "<|start_header_id|>"
      PARAMETER stop "<|end_header_id|>"
      PARAMETER stop <|eot_id|>
      PARAMETER num_ctx 4096
      PARAMETER temperature 0.6
      PARAMETER seed 42
      PARAMETER num_predict 128
      PARAMETER use_mmap false
      """,
    "multiline-system-template": #"""
      FROM llama3.2
      SYSTEM """You are Mario from Super Mario Bros.
      Answer as Mario, the assistant, only.
        Keep answers short."""
      TEMPLATE """{{ if .System }}<|start_header_id|>system<|end_header_id|>

      {{ .System }}<|eot_id|>{{ end }}{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>

      {{ .Prompt }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>

      {{ .Response }}<|eot_id|>"""
      PARAMETER temperature 1
      """#,
    "messages": #"""
      FROM llama3.2
      SYSTEM You answer yes or no.
      MESSAGE user Is Toronto in Canada?
      MESSAGE assistant yes
      MESSAGE user Is Sacramento in Canada?
      MESSAGE assistant no
      MESSAGE user """Is Ontario in Canada?
      Answer in one word."""
      MESSAGE assistant "yes"
      """#,
    "comments-and-case": #"""
      # The tutorial's low temperature, written loosely.
        # an indented comment
      from gemma:7b

      Parameter temperature 0.1
      parameter top_k "3"
      system "Be brief."
      License """MIT
      (c) the authors"""
      message user hi
      MESSAGE assistant hello
      """#,
  ]

  @Test("Modelfile syntax beyond the tutorial", arguments: ["stop-repeated", "multiline-system-template", "messages", "comments-and-case"])
  func modelfile(name: String) throws {
    let text = try #require(Self.modelfiles[name])
    let modelfile = try Modelfile.parse(text).get()
    try Self.check(modelfile.createRequest(name: "caravan-golden-\(name)"), golden: "create-\(name).json.golden")
  }

  @Test("the shape check catches the removed form and mistyped parameters")
  func shapeCheckBites() throws {
    let legacy = JSONValue.object(["model": .string("m"), "modelfile": .string("FROM gemma:7b\n")])
    #expect(try Self.shapeProblems(legacy).contains { $0.contains("'modelfile'") })
    #expect(try Self.shapeProblems(legacy).contains { $0.contains("'from' is missing") })
    let mistyped = JSONValue.object([
      "model": .string("m"), "from": .string("gemma:7b"),
      "parameters": .object(["num_ctx": .string("4096"), "temperature": .string("0.1"), "stop": .string("<|eot_id|>")]),
    ])
    #expect(try Self.shapeProblems(mistyped).count == 3)
  }
}
