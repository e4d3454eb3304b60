@testable import CaravanCore
import Testing

/// Prompt files in their three forms, and the errors a user gets when a line is wrong.
@Suite("Prompt files")
struct PromptFileTests {
  @Test("JSONL lines give prompts, conversations and per-line options")
  func jsonl() throws {
    let text = """
      {"id": "singapore", "prompt": "What is Singapore?"}
      {"id": 42, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is an LLM?"}]}
      {"id": "birthday", "prompt": "Write a birthday message.", "options": {"temperature": 0.9, "stop": "\\n\\n", "num_predict": 128}}
      """
    let prompts = try PromptFile.parse(text, file: "prompts.jsonl")
    #expect(prompts == [
      Prompt(id: "singapore", input: .prompt("What is Singapore?"), line: 1),
      Prompt(id: "42", input: .messages([ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "What is an LLM?")]), line: 2),
      Prompt(id: "birthday", input: .prompt("Write a birthday message."),
             options: ["temperature": .double(0.9), "stop": .array([.string("\n\n")]), "num_predict": .int(128)], line: 3),
    ])
  }

  @Test("a line's system text is sent as a system message")
  func systemWithPrompt() throws {
    let prompts = try PromptFile.parse(#"{"id": "a", "prompt": "Hi", "system": "Answer in French."}"#, file: "p.jsonl")
    #expect(prompts.first?.input == .messages([ChatMessage(role: "system", content: "Answer in French."), ChatMessage(role: "user", content: "Hi")]))
  }

  @Test("a line's system text is sent first when the line gives messages")
  func systemWithMessages() throws {
    let text = #"{"id": "a", "messages": [{"role": "user", "content": "Hi"}], "system": "Answer in French."}"#
    let prompts = try PromptFile.parse(text, file: "p.jsonl")
    #expect(prompts.first?.input == .messages([ChatMessage(role: "system", content: "Answer in French."), ChatMessage(role: "user", content: "Hi")]),
            "the system text was silently dropped")
  }

  @Test("per-line variants are kept")
  func perLineVariants() throws {
    let prompts = try PromptFile.parse("""
      {"id": "a", "prompt": "x", "variants": ["low-temp", "high-temp"]}
      {"id": "b", "prompt": "y"}
      """, file: "p.jsonl")
    #expect(prompts.map(\.variants) == [["low-temp", "high-temp"], nil])
  }

  @Test("variants must be a non-empty list of names", arguments: [#""variants": []"#, #""variants": "low-temp""#, #""variants": ["a", 3]"#])
  func badVariants(field: String) throws {
    let problems = promptProblems("{\"id\": \"a\", \"prompt\": \"x\", \(field)}")
    #expect(problems.map(\.line) == [1])
    #expect(problems.first?.message.contains("variants") == true)
  }

  @Test(".txt files give one prompt per non-blank line, named by the real line number")
  func plainText() throws {
    let text = "What is Singapore?\n\n   \nWhat is a Large Language Model?\n\nWrite a birthday message.\n"
    let prompts = try PromptFile.parse(text, file: "questions.TXT")
    #expect(prompts == [
      Prompt(id: "line-1", input: .prompt("What is Singapore?"), line: 1),
      Prompt(id: "line-4", input: .prompt("What is a Large Language Model?"), line: 4),
      Prompt(id: "line-6", input: .prompt("Write a birthday message."), line: 6),
    ])
  }

  @Test("a .txt line that looks like JSON is still a plain prompt")
  func plainTextJSONLookalike() throws {
    let prompts = try PromptFile.parse(#"{"id": "a"}"#, file: "q.txt")
    #expect(prompts == [Prompt(id: "line-1", input: .prompt(#"{"id": "a"}"#), line: 1)])
  }

  @Test("OpenAI batch lines map custom_id, messages and sampling fields to Ollama")
  func openAIBatch() throws {
    let text = """
      {"custom_id": "request-1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Hello!"}], "temperature": 0.2, "max_tokens": 64, "top_p": 0.9, "stop": "END", "seed": 7}}
      {"custom_id": "request-2", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Bye"}], "max_completion_tokens": 10, "temperature": null}}
      """
    let prompts = try PromptFile.parse(text, file: "batch.jsonl")
    #expect(prompts == [
      Prompt(id: "request-1",
             input: .messages([ChatMessage(role: "system", content: "You are helpful."), ChatMessage(role: "user", content: "Hello!")]),
             options: ["temperature": .double(0.2), "num_predict": .int(64), "top_p": .double(0.9), "stop": .array([.string("END")]), "seed": .int(7)],
             line: 1),
      Prompt(id: "request-2", input: .messages([ChatMessage(role: "user", content: "Bye")]), options: ["num_predict": .int(10)], line: 2),
    ])
  }

  @Test("an OpenAI field with no Ollama equivalent is rejected at its line")
  func openAIUnsupportedField() {
    let problems = promptProblems("""
      {"custom_id": "r1", "body": {"messages": [{"role": "user", "content": "Hi"}]}}
      {"custom_id": "r2", "body": {"messages": [{"role": "user", "content": "Hi"}], "logprobs": true}}
      """, file: "batch.jsonl")
    #expect(problems.map(\.line) == [2])
    #expect(problems.first?.message.contains("body.logprobs") == true)
  }

  @Test("an OpenAI value out of range is rejected at its line")
  func openAIOutOfRange() {
    let problems = promptProblems(#"{"custom_id": "r1", "body": {"messages": [{"role": "user", "content": "Hi"}], "top_p": 3}}"#)
    #expect(problems.map(\.line) == [1])
    #expect(problems.first?.message.contains("body.top_p") == true)
  }

  @Test("a duplicate id names both lines")
  func duplicateID() throws {
    let problems = promptProblems("""
      {"id": "a", "prompt": "x"}
      {"id": "b", "prompt": "y"}

      {"id": "a", "prompt": "z"}
      """, file: "prompts.jsonl")
    let only = try #require(problems.first)
    #expect(problems.count == 1)
    #expect(only.line == 4)
    #expect(only.message.contains("'a'"))
    #expect(only.message.contains("line 1"))
    #expect(InputError(problems).description.contains("prompts.jsonl:4: duplicate id 'a' (first used on line 1)"))
  }

  @Test("an OpenAI custom_id used twice is a duplicate too")
  func duplicateCustomID() {
    let problems = promptProblems("""
      {"custom_id": "r1", "body": {"messages": [{"role": "user", "content": "Hi"}]}}
      {"custom_id": "r1", "body": {"messages": [{"role": "user", "content": "Ho"}]}}
      """)
    #expect(problems.map(\.line) == [2])
  }

  @Test("every bad line is reported in one go, each with its line number")
  func invalidLines() {
    let text = """
      {"id": "a", "prompt": "x"}
      {"id": "b", "prompt": "y"
      not json at all

      {"id": "c", "prompt": "z", "optoins": {"temperature": 0.1}}
      {"prompt": "no id"}
      {"id": "d"}
      {"id": "e", "prompt": "x", "messages": [{"role": "user", "content": "y"}]}
      {"id": "f", "prompt": "x", "options": {"temprature": 0.1}}
      {"id": "g", "messages": [{"role": "robot", "content": "y"}]}
      [1, 2]
      """
    let problems = promptProblems(text, file: "prompts.jsonl")
    #expect(problems.map(\.line) == [2, 3, 5, 6, 7, 8, 9, 10, 11])
    #expect(problems.allSatisfy { $0.file == "prompts.jsonl" })
    let byLine = Dictionary(problems.map { ($0.line ?? 0, $0.message) }, uniquingKeysWith: { a, _ in a })
    #expect(byLine[2]?.contains("not valid JSON") == true)
    #expect(byLine[11]?.contains("not a JSON object") == true)
    #expect(byLine[5]?.contains("did you mean 'options'?") == true)
    #expect(byLine[6]?.contains("\"id\"") == true)
    #expect(byLine[7]?.contains("neither \"prompt\" nor \"messages\"") == true)
    #expect(byLine[8]?.contains("not both") == true)
    #expect(byLine[9]?.contains("did you mean 'temperature'?") == true)
    #expect(byLine[10]?.contains("messages[0].role") == true)
    #expect(InputError(problems).description.contains("prompts.jsonl:2: "))
  }

  @Test("an unknown key suggests the one meant", arguments: [("promt", "prompt"), ("variant", "variants"), ("option", "options")])
  func unknownKeySuggestion(key: String, meant: String) {
    let problems = promptProblems("{\"id\": \"a\", \"prompt\": \"x\", \"\(key)\": 1}")
    #expect(problems.first?.message.contains("did you mean '\(meant)'?") == true)
  }

  @Test("an empty prompt file is rejected")
  func emptyFile() {
    let problems = promptProblems("\n\n", file: "prompts.jsonl")
    #expect(problems.count == 1)
    #expect(problems.first?.message.contains("no prompts") == true)
  }

  @Test("a JSONL file with Windows line endings reads line by line")
  func crlfJSONL() throws {
    let text = "{\"id\": \"a\", \"prompt\": \"x\"}\r\n\r\n{\"id\": \"b\", \"prompt\": \"y\"}\r\n"
    let prompts = try PromptFile.parse(text, file: "prompts.jsonl")
    #expect(prompts == [Prompt(id: "a", input: .prompt("x"), line: 1), Prompt(id: "b", input: .prompt("y"), line: 3)])
  }

  @Test("a .txt file with Windows line endings gives one prompt per line, without the carriage return")
  func crlfText() throws {
    let prompts = try PromptFile.parse("What is Singapore?\r\n\r\nWhat is a Large Language Model?\r\n", file: "questions.txt")
    #expect(prompts == [
      Prompt(id: "line-1", input: .prompt("What is Singapore?"), line: 1),
      Prompt(id: "line-3", input: .prompt("What is a Large Language Model?"), line: 3),
    ])
  }
}
