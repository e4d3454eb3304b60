import AsyncHTTPClient
import CaravanCore
import Foundation
import NIOCore
import NIOHTTP1

/// One line of `/api/pull` progress.
public struct PullProgress: Sendable, Equatable {
  public var status: String
  public var digest: String?
  public var total: Int?
  public var completed: Int?

  public init(_ object: JSONValue) {
    status = object["status"]?.stringValue ?? ""
    digest = object["digest"]?.stringValue
    total = object["total"]?.intValue
    completed = object["completed"]?.intValue
  }

  /// Bytes done and the total, for a progress bar: nil without a positive total, and `done`
  /// held to 0...total (a server may report more than it promised, or a negative count).
  public var progress: (done: Int, total: Int)? {
    guard let total, total > 0, let completed else { return nil }
    return (min(max(0, completed), total), total)
  }
}

extension OllamaClient {
  /// `POST /api/pull`, streamed: calls `progress` for every NDJSON line until `success`.
  /// An `{"error": ...}` line, even inside a 200 stream, throws.
  public func pull(_ model: String, progress: @Sendable (PullProgress) -> Void) async throws(OllamaError) {
    var request = HTTPClientRequest(url: baseURL + "/api/pull")
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    request.body = .bytes(ByteBuffer(string: #"{"model":\#(jsonString(model)),"stream":true}"#))
    var succeeded = false
    do {
      let response = try await httpClient.execute(request, timeout: .hours(24))
      var splitter = LineSplitter()
      for try await chunk in response.body {
        for line in splitter.append(chunk) {
          guard let object = try? JSONDecoder().decode(JSONValue.self, from: line) else { continue }
          if let message = object["error"]?.stringValue {
            throw OllamaError.server(status: Int(response.status.code), message: message)
          }
          let step = PullProgress(object)
          progress(step)
          if step.status == "success" { succeeded = true }
        }
      }
      guard response.status == .ok else { throw OllamaError.server(status: Int(response.status.code), message: "pull failed") }
    } catch let error as OllamaError {
      throw error
    } catch {
      throw .transport(String(describing: error))
    }
    guard succeeded else { throw .decoding("the pull stream ended without 'success'; run the pull again to resume it") }
  }
}

func jsonString(_ text: String) -> String {
  String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
}
