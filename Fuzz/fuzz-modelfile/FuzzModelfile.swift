import CaravanCore
import Foundation

/// libFuzzer entry point: a Modelfile's bytes through Modelfile.parse and, when it parses, the
/// create request built from it. Any trap is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelfile(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
  let data = start.map { Data(bytes: $0, count: count) } ?? Data()
  guard case .success(let text) = TextLines.decode(data) else { return 0 }
  if case .success(let modelfile) = Modelfile.parse(text) {
    _ = modelfile.createRequest(name: "fuzz")
  }
  return 0
}
