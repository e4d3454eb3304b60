import CaravanCore
import Foundation

/// libFuzzer entry point: a streamed answer's bytes, cut into lines as the worker's LineSplitter
/// cuts them (CaravanOllama's stream loops need a server, and importing them would build all of
/// SwiftNIO into the fuzzer), then through the Core decoding those loops call on each line:
/// JSONValue, the accessors they read (`error`, `message.content`, `choices[0].delta.content`,
/// `usage`, `timings`), ServerTimings(ollama:) for Ollama's final NDJSON line, the saturating
/// conversion of llama.cpp's millisecond timings, and the record's encoding. Any trap is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStreamLines(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  guard let start, count > 0 else { return 0 }
  let bytes = UnsafeRawBufferPointer(start: start, count: count)
  var text = ""
  for raw in bytes.split(separator: UInt8(ascii: "\n")) {
    var line = raw[...]
    if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
    // An OpenAI-compatible server's `data:` event, or an Ollama NDJSON line.
    var payload = line
    if payload.starts(with: Array("data:".utf8)) {
      payload = payload.dropFirst(5)
      if payload.first == UInt8(ascii: " ") { payload = payload.dropFirst() }
      if payload.elementsEqual("[DONE]".utf8) { continue }
    }
    guard let object = FastJSON.value(Data(payload)) else { continue }
    _ = object["error"]?["message"]?.stringValue ?? object["error"]?.stringValue
    text += object["message"]?["content"]?.stringValue ?? object["response"]?.stringValue ?? ""
    if let choice = object["choices"]?.arrayValue?.first {
      text += choice["delta"]?["content"]?.stringValue ?? choice["text"]?.stringValue ?? ""
      _ = choice["finish_reason"]?.stringValue
    }
    var timings = ServerTimings(ollama: object)
    if let usage = object["usage"] {
      timings.promptEvalCount = usage["prompt_tokens"]?.intValue
      timings.evalCount = usage["completion_tokens"]?.intValue
    }
    if let server = object["timings"], let promptMs = server["prompt_ms"]?.doubleValue, let predictedMs = server["predicted_ms"]?.doubleValue {
      timings.promptEvalCount = server["prompt_n"]?.intValue ?? timings.promptEvalCount
      timings.promptEvalDuration = (promptMs * 1e6).rounded().saturatingInt
      timings.evalDuration = (predictedMs * 1e6).rounded().saturatingInt
    }
    _ = try? JSONEncoder().encode(timings)
    _ = object["done"]?.boolValue
  }
  _ = text.count
  return 0
}
