import CaravanCore
import Foundation

/// libFuzzer entry point: FastJSON against JSONDecoder on any bytes. Where FastJSON gives a value,
/// JSONDecoder must give the same one; the hand-written line of that value must be what the line
/// encoder writes; and FastJSON must read that line back to the value. A difference traps, so
/// libFuzzer keeps the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  guard let start else { return 0 }
  let data = Data(bytes: start, count: count)
  guard let fast = FastJSON.parse(data) else { return 0 }
  let decoded = try? JSONDecoder().decode(JSONValue.self, from: data)
  precondition(decoded == fast, "FastJSON read \(fast), JSONDecoder \(String(describing: decoded))")
  let encoder = JSONFormats.lineEncoder()
  var bytes: [UInt8] = []
  guard (try? JSONFormats.append(fast, to: &bytes, encoder: encoder)) == true else { return 0 }
  let encoded = try? encoder.encode(fast)
  precondition(encoded == Data(bytes), "the hand-written line differs from JSONEncoder's for \(fast)")
  let again = FastJSON.parse(Data(bytes))
  precondition(again == nil || again == fast, "FastJSON read its own line back as \(String(describing: again))")
  return 0
}
