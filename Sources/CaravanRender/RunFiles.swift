import CaravanCore
import Foundation

/// A new run directory's files, rendered from the checked spec and its plan: relative path to
/// bytes. Pure; `RunDirectory.create` (CaravanStorage) writes them, or a dry run shows them.
public struct RunFiles: Sendable, Equatable {
  /// Every file, by path relative to the run directory.
  public var files: [String: Data]
  /// The scripts among them, which must be executable (mode 0700).
  public var executables: [String]

  /// `specText` is the spec as the user wrote it (kept as `spec.yaml`); `spec` is what it resolved to.
  public init(specText: String, spec: JobSpec, plan: Plan, job: BatchJob, manifest: Manifest) throws {
    let document = JSONFormats.documentEncoder()
    files = [
      "spec.yaml": Data(specText.utf8),
      "spec.resolved.json": try document.encode(spec),
      "manifest.json": try document.encode(manifest),
      "job.sbatch": Data(ScriptRenderer.render(job).utf8),
      "server.sh": Data(job.server.script(origin: job.origin).utf8),
    ]
    let line = JSONFormats.lineEncoder()
    for (index, items) in plan.shards.enumerated() {
      var data = Data()
      for item in items {
        data.append(try line.encode(item))
        data.append(UInt8(ascii: "\n"))
      }
      files["shards/" + RunLayout.shardName(index)] = data
    }
    executables = ["job.sbatch", "server.sh"]
  }
}
