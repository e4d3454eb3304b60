@testable import CaravanCore
import Testing

/// Model names by Ollama's rules (types/model/name.go): what it accepts, what it refuses and
/// why, and that no accepted name makes a manifest path outside the store.
@Suite("Model names")
struct ModelNameTests {
  @Test("names Ollama accepts, with its defaults filled in", arguments: [
    ("gemma:7b", "manifests/registry.ollama.ai/library/gemma/7b", "gemma:7b"),
    ("gemma", "manifests/registry.ollama.ai/library/gemma/latest", "gemma:latest"),
    ("library/gemma:7b", "manifests/registry.ollama.ai/library/gemma/7b", "gemma:7b"),
    ("user/model:tag", "manifests/registry.ollama.ai/user/model/tag", "user/model:tag"),
    ("example.com:5000/ns/model:v1.2", "manifests/example.com:5000/ns/model/v1.2", "example.com:5000/ns/model:v1.2"),
    ("https://example.com/ns/model", "manifests/example.com/ns/model/latest", "example.com/ns/model:latest"),
    ("_x", "manifests/registry.ollama.ai/library/_x/latest", "_x:latest"),
    ("qwen2.5..x:7B_q4", "manifests/registry.ollama.ai/library/qwen2.5..x/7B_q4", "qwen2.5..x:7B_q4"),
    ("Llama-3-8B-Instruct", "manifests/registry.ollama.ai/library/Llama-3-8B-Instruct/latest", "Llama-3-8B-Instruct:latest"),
  ])
  func valid(text: String, manifestPath: String, shown: String) throws {
    let name = try ModelName(parsing: text)
    #expect(name.manifestPath == manifestPath)
    #expect(name.description == shown)
    #expect(ModelName.problem(text) == nil)
  }

  @Test("names Ollama refuses, each with the part and the rule", arguments: [
    ("", "it is empty"),
    ("..", "the model name '..' must start with a letter, a digit or '_' (not '.')"),
    ("../../etc/passwd", "more than three parts"),
    ("../escaped:x", "the namespace '..' must start with a letter, a digit or '_'"),
    ("a/../b", "the namespace '..' must start"),
    (".hidden", "the model name '.hidden' must start with a letter, a digit or '_' (not '.')"),
    ("-rf", "must start with a letter, a digit or '_' (not '-')"),
    ("x:", "the tag is empty"),
    (":tag", "the model name is empty"),
    ("a//b", "the namespace is empty"),
    ("ns.dots/model", "the namespace 'ns.dots' contains '.'; Ollama allows letters, digits and '_', '-' there"),
    ("model name", "the model name 'model name' contains ' '"),
    ("modèle", "contains 'è'"),
    ("a:b:c", "the model name 'a:b' contains ':'"),
    ("x:tag/..", "the namespace 'x:tag' contains ':'"),
    ("h/n/m/extra", "more than three parts"),
    ("m:../../x", "the namespace '..' must start"),
    ("tab\tname", "contains '\\u{9}'"),
  ])
  func invalid(text: String, reason: String) {
    #expect(throws: ModelNameError.self) { try ModelName(parsing: text) }
    let problem = ModelName.problem(text)
    #expect(problem?.contains(reason) == true, "\(problem ?? "accepted")")
  }

  @Test("each part has Ollama's length limit: 350 bytes for a host, 80 for the others")
  func lengths() {
    #expect(ModelName.problem(String(repeating: "m", count: 80)) == nil)
    #expect(ModelName.problem(String(repeating: "m", count: 81))?.contains("the model name is 81 bytes long; Ollama allows at most 80") == true)
    #expect(ModelName.problem("m:" + String(repeating: "t", count: 81))?.contains("the tag is 81 bytes long") == true)
    #expect(ModelName.problem(String(repeating: "n", count: 81) + "/m")?.contains("the namespace is 81 bytes long") == true)
    #expect(ModelName.problem(String(repeating: "h", count: 350) + "/n/m") == nil)
    #expect(ModelName.problem(String(repeating: "h", count: 351) + "/n/m")?.contains("the host is 351 bytes long; Ollama allows at most 350") == true)
  }

  @Test("no valid name has a path segment that leaves the store")
  func manifestPathsStayInside() throws {
    for text in ["a", "a.b", "a..b", "h.x:1/n/m:t.t", "_/_:_"] {
      let segments = try ModelName(parsing: text).manifestPath.split(separator: "/", omittingEmptySubsequences: false)
      #expect(segments.count == 5)
      #expect(segments.allSatisfy { !$0.isEmpty && !$0.hasPrefix(".") })
    }
  }

  @Test("a store's folders read back as a name only when each is a valid part")
  func fromFolders() {
    #expect(ModelName(host: "registry.ollama.ai", namespace: "library", model: "gemma", tag: "7b")?.description == "gemma:7b")
    #expect(ModelName(host: "registry.ollama.ai", namespace: "..", model: "gemma", tag: "7b") == nil)
    #expect(ModelName(host: "registry.ollama.ai", namespace: "library", model: ".git", tag: "HEAD") == nil)
  }
}
