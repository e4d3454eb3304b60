@testable import CaravanCore
import Foundation
import Testing

/// Modelfiles become today's `/api/create` bodies (from, parameters, system...), never `modelfile`.
@Suite("Modelfile")
struct ModelfileTests {
  /// The tutorial's four Modelfiles, the model names it creates them as, and the bodies Ollama
  /// documents for `/api/create` since v0.5.5.
  static let tutorial: [(name: String, text: String, body: JSONValue)] = [
    ("gemma_low_temp", "FROM gemma:7b\nPARAMETER temperature 0.1\n", .object([
      "model": .string("gemma_low_temp"), "from": .string("gemma:7b"), "parameters": .object(["temperature": .double(0.1)]), "stream": .bool(false),
    ])),
    ("gemma_high_temp", "FROM gemma:7b\nPARAMETER temperature 1.0\n", .object([
      "model": .string("gemma_high_temp"), "from": .string("gemma:7b"), "parameters": .object(["temperature": .double(1.0)]), "stream": .bool(false),
    ])),
    ("gemma_top_k_3", "FROM gemma:7b\nPARAMETER temperature 0.5\nPARAMETER top_k 3\n", .object([
      "model": .string("gemma_top_k_3"), "from": .string("gemma:7b"), "parameters": .object(["temperature": .double(0.5), "top_k": .int(3)]), "stream": .bool(false),
    ])),
    ("gemma_top_k_200", "FROM gemma:7b\nPARAMETER temperature 0.5\nPARAMETER top_k 200\n", .object([
      "model": .string("gemma_top_k_200"), "from": .string("gemma:7b"), "parameters": .object(["temperature": .double(0.5), "top_k": .int(200)]), "stream": .bool(false),
    ])),
  ]

  @Test("the tutorial's Modelfiles produce exactly the expected /api/create bodies", arguments: 0..<4)
  func tutorialBodies(index: Int) throws {
    let (name, text, expected) = Self.tutorial[index]
    let modelfile = try Modelfile.parse(text).get()
    let body = modelfile.createRequest(name: name)
    #expect(body.canonical == expected.canonical)
    #expect(body["modelfile"] == nil)
  }

  @Test("the create body serialises with the keys Ollama reads")
  func createBodyEncodes() throws {
    let body = try Modelfile.parse("FROM gemma:7b\nPARAMETER temperature 0.1\n").get().createRequest(name: "gemma_low_temp")
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    let json = String(decoding: try encoder.encode(body), as: UTF8.self)
    #expect(json == #"{"from":"gemma:7b","model":"gemma_low_temp","parameters":{"temperature":0.1},"stream":false}"#)
  }

  @Test("PARAMETER stop may repeat and collects into a list")
  func repeatedStop() throws {
    let modelfile = try Modelfile.parse("""
      FROM llama3.2
      PARAMETER stop "<|start_header_id|>"
      PARAMETER stop <|eot_id|>
      PARAMETER num_ctx 4096
      """).get()
    #expect(modelfile.parameters["stop"] == .array([.string("<|start_header_id|>"), .string("<|eot_id|>")]))
    #expect(modelfile.parameters["num_ctx"] == .int(4096))
    #expect(modelfile.createRequest(name: "x")["parameters"]?["stop"] == .array([.string("<|start_header_id|>"), .string("<|eot_id|>")]))
  }

  @Test("SYSTEM in triple quotes keeps every line")
  func multilineSystem() throws {
    let modelfile = try Modelfile.parse("""
      FROM gemma:7b
      SYSTEM \"\"\"You are Mario from Super Mario Bros.
      Answer as Mario, the assistant, only.
        Keep it short.\"\"\"
      PARAMETER temperature 1
      """).get()
    #expect(modelfile.system == "You are Mario from Super Mario Bros.\nAnswer as Mario, the assistant, only.\n  Keep it short.")
    #expect(modelfile.parameters.canonical == ["temperature": .int(1)])
    let body = modelfile.createRequest(name: "mario")
    #expect(body["system"] == .string("You are Mario from Super Mario Bros.\nAnswer as Mario, the assistant, only.\n  Keep it short."))
  }

  @Test("a closing triple quote on its own line ends the text")
  func tripleQuoteClosedOnOwnLine() throws {
    let modelfile = try Modelfile.parse("FROM gemma:7b\nSYSTEM \"\"\"\nBe brief.\n\"\"\"\nPARAMETER top_k 3\n").get()
    #expect(modelfile.system?.trimmingCharacters(in: .whitespacesAndNewlines) == "Be brief.")
    #expect(modelfile.parameters == ["top_k": .int(3)])
  }

  @Test("an unclosed triple quote is reported at the line that opens it")
  func unclosedTripleQuote() throws {
    let error = try #require(throws: InputError.self, "an unclosed \"\"\" was accepted") {
      try Modelfile.parse("FROM gemma:7b\nSYSTEM \"\"\"Be brief.\nPARAMETER top_k 3\n").get()
    }
    #expect(error.problems.map(\.line) == [2])
  }

  @Test("SYSTEM, TEMPLATE and LICENSE on one line; quotes are removed")
  func singleLineInstructions() throws {
    let modelfile = try Modelfile.parse("""
      # a comment
      from gemma:7b
      SYSTEM "You are terse."
      TEMPLATE {{ .Prompt }}
      LICENSE MIT
      """).get()
    let body = modelfile.createRequest(name: "terse")
    #expect(body == .object([
      "model": .string("terse"), "from": .string("gemma:7b"), "system": .string("You are terse."), "template": .string("{{ .Prompt }}"),
      "license": .array([.string("MIT")]), "stream": .bool(false),
    ]))
  }

  @Test("MESSAGE lines become the messages list, in order")
  func messages() throws {
    let modelfile = try Modelfile.parse("""
      FROM gemma:7b
      MESSAGE user Is Toronto in Canada?
      MESSAGE assistant "yes"
      MESSAGE user Is Sacramento in Canada?
      MESSAGE assistant no
      """).get()
    #expect(modelfile.messages == [
      ChatMessage(role: "user", content: "Is Toronto in Canada?"), ChatMessage(role: "assistant", content: "yes"),
      ChatMessage(role: "user", content: "Is Sacramento in Canada?"), ChatMessage(role: "assistant", content: "no"),
    ])
    #expect(modelfile.createRequest(name: "geo")["messages"] == .array([
      .object(["role": .string("user"), "content": .string("Is Toronto in Canada?")]), .object(["role": .string("assistant"), "content": .string("yes")]),
      .object(["role": .string("user"), "content": .string("Is Sacramento in Canada?")]), .object(["role": .string("assistant"), "content": .string("no")]),
    ]))
  }

  @Test("a body without parameters, system or messages leaves those keys out")
  func minimalBody() throws {
    let body = try Modelfile.parse("FROM gemma:7b\n").get().createRequest(name: "plain")
    #expect(body == .object(["model": .string("plain"), "from": .string("gemma:7b"), "stream": .bool(false)]))
  }

  @Test("an unknown PARAMETER is rejected with a suggestion, at its line")
  func unknownParameter() throws {
    let error = try #require(throws: InputError.self, "PARAMETER temprature was accepted") {
      try Modelfile.parse("FROM gemma:7b\n\nPARAMETER temprature 0.1\n").get()
    }
    #expect(error.problems.count == 1)
    #expect(error.problems.first?.line == 3)
    #expect(error.problems.first?.message.contains("did you mean 'temperature'?") == true)
  }

  @Test("PARAMETER values are checked like options", arguments: [
    "PARAMETER mirostat 1", "PARAMETER top_p 2", "PARAMETER top_k three", "PARAMETER temperature -1", "PARAMETER use_mmap maybe",
  ])
  func badParameterValue(line: String) throws {
    let error = try #require(throws: InputError.self, "'\(line)' was accepted") { try Modelfile.parse("FROM gemma:7b\n" + line).get() }
    #expect(error.problems.map(\.line) == [2])
  }

  @Test("unknown instructions, bad MESSAGE roles, ADAPTER and a second FROM are all reported")
  func instructionProblems() throws {
    let error = try #require(throws: InputError.self, "the Modelfile was accepted") {
      try Modelfile.parse("""
        FROM gemma:7b
        PARAMETR temperature 0.1
        MESSAGE robot hello
        ADAPTER ./lora.gguf
        FROM llama3
        """).get()
    }
    try #require(error.problems.map(\.line) == [2, 3, 4, 5])
    #expect(error.problems[0].message.contains("did you mean PARAMETER?"))
    #expect(error.problems[1].message.contains("'robot'"))
    #expect(error.problems[2].message.contains("ADAPTER"))
    #expect(error.problems[3].message.contains("FROM appears twice"))
  }

  @Test("quoted values read as Ollama's parser reads them")
  func quotedValuesFollowOllama() throws {
    let modelfile = try Modelfile.parse("FROM \"gemma:7b\"\nPARAMETER temperature \"0.5\"\nSYSTEM \"Two\nlines\"\nMESSAGE user \"\"\"Is it\n  multi-line?\"\"\"   \nTEMPLATE \"\"\"{{ .Prompt }}\"\"\"\n").get()
    #expect(modelfile.from == "gemma:7b")
    #expect(modelfile.parameters == ["temperature": .double(0.5)])
    // A "..." value may span lines too; blanks after a closing quote do not count.
    #expect(modelfile.system == "Two\nlines")
    #expect(modelfile.messages == [ChatMessage(role: "user", content: "Is it\n  multi-line?")])
    #expect(modelfile.template == "{{ .Prompt }}")
  }

  @Test("a Modelfile with Windows line endings parses line by line")
  func crlf() throws {
    let modelfile = try Modelfile.parse("FROM gemma:7b\r\nPARAMETER temperature 0.5\r\nPARAMETER top_k 3\r\n").get()
    #expect(modelfile.from == "gemma:7b")
    #expect(modelfile.parameters == ["temperature": .double(0.5), "top_k": .int(3)])
  }
}
