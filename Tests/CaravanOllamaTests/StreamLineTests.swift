import CaravanCore
import Foundation
import Testing

@testable import CaravanOllama

/// Stream lines, read with FastJSON, mean what they meant read by JSONDecoder into a
/// `JSONValue`, odd types included.
@Suite struct StreamLineTests {
  func ollama(_ text: String) -> OllamaStreamLine? { OllamaStreamLine.decode(Data(text.utf8)) }
  func openAI(_ text: String) -> OpenAIEvent? { OpenAIEvent.decode(Data(text.utf8)) }

  @Test func ollamaLinesMeanWhatTheyMeantAsJSONValues() throws {
    let chat = try #require(ollama(#"{"model":"m","created_at":"x","message":{"role":"assistant","content":"Hi"},"done":false}"#))
    #expect(chat.piece == "Hi" && chat.done == false && chat.error == nil)
    #expect(ollama(#"{"response":" there","done":true,"eval_count":3}"#)?.piece == " there")
    #expect(ollama(#"{"response":"","done":true}"#)?.done == true)
    #expect(ollama(#"{"error":"an error was encountered while running the model: unexpected EOF"}"#)?.error?.hasPrefix("an error") == true)
    // Other types than the usual ones: read as before (an error object is no error line; a
    // content that is not text adds nothing, and the response is used).
    let odd = try #require(ollama(#"{"error":{"code":1},"message":{"content":5},"response":"r","done":"yes"}"#))
    #expect(odd.error == nil && odd.piece == "r" && odd.done == nil)
    #expect(ollama(#"{"message":null,"response":null}"#)?.piece == "")
    #expect(ollama("not json") == nil)
  }

  @Test func openAIEventsMeanWhatTheyMeantAsJSONValues() throws {
    let chunk = try #require(openAI(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}],"usage":null}"#))
    #expect(chunk.choice?.piece == "Hi" && chunk.choice?.finishReason == nil && chunk.error == nil && chunk.usage == nil)
    let last = try #require(openAI(#"{"choices":[{"text":" end","finish_reason":"length"}],"usage":{"completion_tokens":4},"timings":{"predicted_ms":1.5}}"#))
    #expect(last.choice?.piece == " end" && last.choice?.finishReason == "length")
    #expect(last.usage?["completion_tokens"] == .int(4) && last.timings?["predicted_ms"] == .double(1.5))
    #expect(try #require(openAI(#"{"choices":[]}"#)).choice == nil)
    // An error key, even null, is an error event, as it was.
    #expect(openAI(#"{"error":{"message":"boom"}}"#)?.error?["message"] == .string("boom"))
    #expect(openAI(#"{"error":null}"#)?.error == .null)
    // Odd types fall back: a number as content adds nothing.
    let odd = try #require(openAI(#"{"choices":[{"delta":{"content":7},"text":"t"}]}"#))
    #expect(odd.choice?.piece == "t")
    #expect(openAI("[DONE") == nil)
  }
}
