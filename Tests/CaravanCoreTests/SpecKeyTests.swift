@testable import CaravanCore
import Foundation
import Testing

/// Each spec key is declared once, in its section's table: the parser accepts exactly the table's
/// keys, a null means the default, required keys must say something, and the resolved spec keeps
/// its JSON keys and reads when an older Caravan wrote it.
@Suite("Spec keys")
struct SpecKeyTests {
  @Test("a misspelt engine key is answered with the table's key")
  func misspeltEngineKey() throws {
    let text = minimalSpec + """
      engine:
        paralel: 8
      """
    let found = try #require(problem(at: "engine.paralel", in: specProblems(text)))
    #expect(found.line == line(of: "paralel", in: text))
    #expect(found.message.contains("did you mean 'parallel'?"))
  }

  @Test("an unknown key with no near match lists exactly the section's table", arguments: [
    ("", JobSpec.fields.map(\.key)), ("engine", JobSpec.Engine.fields.map(\.key)),
    ("slurm", JobSpec.Slurm.fields.map(\.key)), ("container", JobSpec.Container.fields.map(\.key)),
  ])
  func unknownKeyListsTable(section: String, keys: [String]) throws {
    let text = switch section {
    case "": minimalSpec + "zzzzzzzzzzzzzz: 1\n"
    case "container": minimalSpec + "  zzzzzzzzzzzzzz: 1\n"
    default: minimalSpec + "\(section):\n  zzzzzzzzzzzzzz: 1\n"
    }
    let found = try #require(problem(at: section.isEmpty ? "zzzzzzzzzzzzzz" : "\(section).zzzzzzzzzzzzzz", in: specProblems(text)))
    #expect(found.line == line(of: "zzzzzzzzzzzzzz", in: text))
    #expect(found.message.hasSuffix("known keys here: \(keys.joined(separator: ", "))"))
  }

  @Test("a required key that is null or empty is reported at its line, saying what to write", arguments: [
    ("model: ~", "model", "gemma:7b"), ("model:", "model", "gemma:7b"), ("model: \"  \"", "model", "gemma:7b"),
    ("prompts: null", "prompts", "prompt file"), ("prompts: ''", "prompts", "prompt file"),
    ("name: ~", "name", "letters, digits"), ("name: \"\"", "name", "letters, digits"),
  ])
  func requiredKeyEmpty(line text: String, key: String, hint: String) throws {
    let lines = ["name: demo", "model: gemma:7b", "prompts: prompts.jsonl", "container: {runtime: none}"]
    let spec = lines.map { $0.hasPrefix(key + ":") ? text : $0 }.joined(separator: "\n") + "\n"
    let error = try #require(specError(spec, file: "job.yaml"))
    let found = try #require(problem(at: key, in: error.problems))
    let number = try #require(lines.firstIndex { $0.hasPrefix(key + ":") }) + 1
    #expect(found.line == number)
    #expect(found.message.hasPrefix("is empty; "))
    #expect(found.message.contains(hint))
    #expect(error.problems.count == 1, "one problem, not also 'missing' or an invalid name: \(error)")
    #expect(error.description.contains("job.yaml:\(number): \(key): is empty; "))
  }

  @Test("a variant whose name is null is reported at that variant's name")
  func variantNameNull() throws {
    let text = minimalSpec + """
      variants:
        - name: ~
          options: {temperature: 0.1}
        - options: {temperature: 0.2}
      """
    let problems = specProblems(text)
    let null = try #require(problem(at: "variants[0].name", in: problems))
    #expect(null.line == line(of: "name: ~", in: text))
    #expect(null.message.hasPrefix("is empty; give each variant a name"))
    let missing = try #require(problem(at: "variants[1].name", in: problems))
    #expect(missing.line == line(of: "- options: {temperature: 0.2}", in: text))
    #expect(missing.message.contains("required key 'name' is missing"))
  }

  @Test("an optional key set to null, or left without a value, takes its default")
  func nullOptionalKeyIsDefault() throws {
    let spec = try SpecParser.parse(minimalSpec + """
      repeats: ~
      output: null
      executor:
      engine:
        command: ~
        parallel: null
        env: ~
        models_dir:
      variants: ~
      sweep: ~
      slurm:
        time: ~
        shards: NULL
        setup:
        extra: ~
      """, file: "job.yaml")
    var expected = JobSpec(name: "demo", model: "gemma:7b", prompts: "prompts.jsonl")
    expected.container.runtime = .none
    #expect(spec == expected)
    #expect(spec.engine.command == nil, "not the text '~'")
    #expect(spec.slurm.time == nil, "not the text '~'")
  }

  @Test("a null section takes every default of the section")
  func nullSectionIsDefault() throws {
    let spec = try SpecParser.parse("name: demo\nmodel: gemma:7b\nprompts: p.jsonl\nengine: ~\nslurm:\ncontainer: {runtime: none}\n", file: "job.yaml")
    #expect(spec.engine == JobSpec.Engine())
    #expect(spec.slurm == JobSpec.Slurm())
  }

  @Test("a quoted null is text, and a null inside a list is a problem, not the text 'null'")
  func nullInsideValues() throws {
    let spec = try SpecParser.parse(minimalSpec + "engine:\n  command: \"~\"\nslurm:\n  partition: 'null'\n", file: "job.yaml")
    #expect(spec.engine.command == "~")
    #expect(spec.slurm.partition == "null")
    let text = minimalSpec + "slurm:\n  setup:\n    - module load apptainer\n    - ~\n"
    let found = try #require(problem(at: "slurm.setup[1]", in: specProblems(text)))
    #expect(found.line == line(of: "- ~", in: text))
    #expect(found.message.contains("expected text"))
  }

  @Test("an explicit !!str tag makes a value text: a number or null so tagged is not typed by its look")
  func explicitStringTag() throws {
    let text = minimalSpec + "repeats: !!str 3\n"
    let found = try #require(problem(at: "repeats", in: specProblems(text)))
    #expect(found.line == line(of: "repeats: !!str 3", in: text))
    #expect(found.message.contains("expected a whole number"))
    let spec = try SpecParser.parse(minimalSpec + "repeats: 3\nslurm:\n  partition: !!str ~\nengine:\n  command: !!str 42\n", file: "job.yaml")
    #expect(spec.repeats == 3)
    #expect(spec.slurm.partition == "~")
    #expect(spec.engine.command == "42")
  }

  /// spec.resolved.json as Caravan wrote it before engine.servers, max_restarts,
  /// telemetry_interval, request_timeout and slurm.max_requeues existed.
  static let olderResolvedSpec = """
    {
      "container" : {
        "binds" : [],
        "flags" : ["--nv"],
        "image" : "/images/ollama.sif",
        "runtime" : "apptainer"
      },
      "engine" : {
        "env" : {"OLLAMA_KEEP_ALIVE" : "-1"},
        "kind" : "ollama",
        "models_dir" : "/scratch/ollama-models",
        "parallel" : 8,
        "ready_timeout" : 900
      },
      "model" : "gemma:7b",
      "name" : "birthday",
      "output" : "/scratch/runs",
      "prompts" : "/home/me/prompts.jsonl",
      "repeats" : 2,
      "slurm" : {
        "extra" : [],
        "gpus_per_node" : 1,
        "grace" : 300,
        "partition" : "gpu",
        "setup" : ["module load apptainer"],
        "shards" : 4,
        "time" : "01:00:00"
      },
      "sweep" : [],
      "variants" : [
        {"name" : "cold", "options" : {"temperature" : 0.1}}
      ]
    }
    """

  @Test("a resolved spec an older Caravan wrote decodes, with the newer keys at their defaults")
  func olderResolvedSpecDecodes() throws {
    let spec = try JSONDecoder().decode(JobSpec.self, from: Data(Self.olderResolvedSpec.utf8))
    #expect(spec.engine.requestTimeout == 3600)
    #expect(spec.engine.servers == .perGPU)
    #expect(spec.engine.maxRestarts == 3)
    #expect(spec.engine.telemetryInterval == 1000)
    #expect(spec.slurm.maxRequeues == 3)
    // What it did write is kept.
    #expect(spec.name == "birthday" && spec.repeats == 2 && spec.output == "/scratch/runs")
    #expect(spec.engine.parallel == 8 && spec.engine.readyTimeout == 900 && spec.engine.modelsDir == "/scratch/ollama-models")
    #expect(spec.engine.command == nil && spec.executor == nil)
    #expect(spec.slurm.shards == 4 && spec.slurm.grace == 300 && spec.slurm.time == "01:00:00" && spec.slurm.cpusPerTask == nil)
    #expect(spec.container.image == "/images/ollama.sif")
    #expect(spec.variants == [VariantSpec(name: "cold", options: ["temperature": .double(0.1)])])
  }

  @Test("engine.embed_batch is read from the spec, defaults to 32, and is 32 in a resolved spec without it")
  func embedBatch() throws {
    #expect(try SpecParser.parse(minimalSpec + "engine:\n  embed_batch: 64\n", file: "job.yaml").engine.embedBatch == 64)
    #expect(try SpecParser.parse(minimalSpec, file: "job.yaml").engine.embedBatch == 32)
    #expect(try JSONDecoder().decode(JobSpec.self, from: Data(Self.olderResolvedSpec.utf8)).engine.embedBatch == 32)
  }

  @Test("a resolved spec without a required key does not decode")
  func resolvedSpecWithoutModel() {
    #expect(throws: DecodingError.self) {
      try JSONDecoder().decode(JobSpec.self, from: Data(#"{"name": "a", "prompts": "p.jsonl"}"#.utf8))
    }
  }

  /// spec.resolved.json of `SpecParserTests.fullSpec` (one variant, one sweep axis) as Caravan
  /// wrote it before the key tables, byte for byte.
  static let resolvedFullSpec = """
    {
      "container" : {
        "binds" : [
          "/scratch:/scratch"
        ],
        "flags" : [
          "--nv",
          "--containall"
        ],
        "image" : "/images/ollama.sif",
        "runtime" : "apptainer"
      },
      "engine" : {
        "command" : "ollama serve --verbose",
        "env" : {
          "OLLAMA_FLASH_ATTENTION" : "1",
          "OLLAMA_KEEP_ALIVE" : "-1"
        },
        "kind" : "sim",
        "max_restarts" : 3,
        "models_dir" : "/scratch/ollama-models",
        "parallel" : 8,
        "ready_timeout" : 900,
        "request_timeout" : 1200,
        "servers" : "per-gpu",
        "telemetry_interval" : 1000
      },
      "executor" : "slurm",
      "model" : "gemma:7b",
      "name" : "birthday-sweep",
      "output" : "/scratch/runs",
      "prompts" : "prompts/birthday.jsonl",
      "repeats" : 3,
      "slurm" : {
        "account" : "proj123",
        "cpus_per_task" : 8,
        "extra" : [
          "--constraint=a100"
        ],
        "gpus_per_node" : 2,
        "grace" : 300,
        "max_requeues" : 3,
        "mem" : "64G",
        "partition" : "gpu",
        "qos" : "normal",
        "setup" : [
          "module load apptainer",
          "export TMPDIR=/scratch/tmp"
        ],
        "shards" : 4,
        "time" : "01:30:00"
      },
      "sweep" : [
        {
          "option" : "top_k",
          "values" : [
            3
          ]
        }
      ],
      "variants" : [
        {
          "name" : "cold",
          "options" : {
            "top_k" : 3
          }
        }
      ]
    }
    """

  @Test("the resolved spec keeps every key and value Caravan wrote before; a new key only adds one")
  func resolvedSpecKeys() throws {
    var spec = try SpecParser.parse(SpecParserTests.fullSpec, file: "birthday.yaml")
    spec.variants = [VariantSpec(name: "cold", options: ["top_k": .int(3)])]
    spec.sweep = [SweepAxis(option: "top_k", values: [.int(3)])]
    let before = try JSONDecoder().decode(JSONValue.self, from: Data(Self.resolvedFullSpec.utf8))
    let now = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(spec))
    #expect(changes(from: before, to: now) == [])
    #expect(try JSONDecoder().decode(JobSpec.self, from: Data(Self.resolvedFullSpec.utf8)) == spec)
  }
}

/// The paths of `before` that `after` lacks or holds another value at; keys only `after` has are
/// additions, not changes.
func changes(from before: JSONValue, to after: JSONValue, at path: String = "") -> [String] {
  switch (before, after) {
  case (.object(let old), .object(let new)):
    return old.keys.sorted().flatMap { key in
      new[key].map { changes(from: old[key]!, to: $0, at: path.isEmpty ? key : "\(path).\(key)") } ?? ["\(path.isEmpty ? key : "\(path).\(key)") is gone"]
    }
  case (.array(let old), .array(let new)) where old.count == new.count:
    return zip(old, new).enumerated().flatMap { index, pair in changes(from: pair.0, to: pair.1, at: "\(path)[\(index)]") }
  default:
    return before == after ? [] : ["\(path): \(before) became \(after)"]
  }
}
