import CaravanCore
import Foundation

/// libFuzzer entry point: FastJSON against JSONDecoder on any bytes. Where FastJSON gives a value,
/// JSONDecoder must give the same one; the hand-written line of that value must be what the line
/// encoder writes; and FastJSON must read that line back to the value. `FastJSON.fields` (the
/// members collect reads, the others passed over in place) must take exactly the objects `parse`
/// takes, with the same members. A difference traps, so libFuzzer keeps the input.
private let names = FastJSON.FieldNames(["seq", "id", "variant", "status", "é"])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  guard let start else { return 0 }
  let data = Data(bytes: start, count: count)
  let fields = data.withUnsafeBytes { FastJSON.fields($0, names) }
  guard let fast = FastJSON.parse(data) else {
    precondition(fields == nil, "fields read an object parse refused")
    return 0
  }
  if case .object(let object) = fast {
    guard let fields else { preconditionFailure("fields refused an object parse read") }
    for name in ["seq", "id", "variant", "status", "é"] { precondition(fields[name] == object[name], "fields read \(name) differently") }
  } else {
    precondition(fields == nil, "fields read something other than an object")
  }
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
