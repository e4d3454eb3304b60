import CaravanTestSupport
import Foundation
import Testing

/// The target graph as README's "Code layout" states it, checked on the `import` lines of
/// Sources/ (Package.swift's dependencies alone would let a transitive import slip through).
@Suite struct ArchitectureTests {
  /// Every module each target's files import.
  static func imports() throws -> [String: Set<String>] {
    let sources = TestPaths.packageRoot.appendingPathComponent("Sources")
    var result: [String: Set<String>] = [:]
    for target in try FileManager.default.contentsOfDirectory(atPath: sources.path) {
      let folder = sources.appendingPathComponent(target)
      guard let files = FileManager.default.enumerator(atPath: folder.path) else { continue }
      var modules: Set<String> = []
      for case let file as String in files where file.hasSuffix(".swift") {
        let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
        for line in text.split(separator: "\n") {
          let words = line.split(separator: " ").filter { !$0.isEmpty && $0 != "@testable" && !$0.hasPrefix("@_") }
          if words.count >= 2, words[0] == "import" { modules.insert(String(words[1])) }
        }
      }
      result[target] = modules
    }
    return result
  }

  static let executables: Set<String> = ["caravan", "ollama-sim"]

  @Test func theWorkerNeverReachesTheScheduler() throws {
    let worker = try #require(try Self.imports()["CaravanWorker"])
    #expect(!worker.contains("CaravanSlurm") && !worker.contains("CSlurm") && !worker.contains("CaravanRun"))
  }

  @Test func onlyCaravanSlurmImportsLibslurm() throws {
    let importers = try Self.imports().filter { $0.value.contains("CSlurm") }.map(\.key)
    #expect(importers == ["CaravanSlurm"])
  }

  @Test func coreAndRenderArePure() throws {
    let imports = try Self.imports()
    #expect(try #require(imports["CaravanCore"]).isSubset(of: ["Foundation", "Yams"]))
    #expect(try #require(imports["CaravanRender"]).isSubset(of: ["Foundation", "CaravanCore"]))
  }

  @Test func noLibraryParsesCommandLines() throws {
    let libraries = try Self.imports().filter { !Self.executables.contains($0.key) }
    #expect(libraries.count >= 8)
    for (target, modules) in libraries {
      #expect(!modules.contains("ArgumentParser"), "\(target) imports ArgumentParser")
    }
  }
}
