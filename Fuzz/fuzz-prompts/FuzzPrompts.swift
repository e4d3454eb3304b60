import CaravanCore
import Foundation

/// libFuzzer entry point: a prompt file's bytes through PromptFile, in each of its forms (the
/// first byte picks the file name: Caravan or OpenAI JSONL, or plain text). Any trap is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPrompts(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  guard let start, count > 0 else { return 0 }
  let bytes = UnsafeRawBufferPointer(start: start, count: count)
  let file = ["prompts.jsonl", "prompts.txt", "batch.JSONL", "prompts.TXT"][Int(bytes[0]) % 4]
  guard case .success(let text) = TextLines.decode(Data(bytes.dropFirst())) else { return 0 }
  _ = try? PromptFile.parse(text, file: file)
  return 0
}
