import CaravanCore
import Foundation

/// A new run directory's files, rendered from the checked spec and its plan: relative path to
/// bytes. Pure; `RunDirectory.create` (CaravanStorage) writes them, or a dry run shows them.
///
/// The shard files, which grow with the item count, are not held as bytes: `shardFiles` encodes
/// them in pieces as they are written, so a plan of a million items needs no more memory than
/// one of a thousand.
public struct RunFiles: Sendable {
  /// Every small file, by path relative to the run directory.
  public var files: [String: Data]
  /// The scripts among them, which must be executable (mode 0700).
  public var executables: [String]
  /// Each shard's items, written as `shards/shard-NNNN.jsonl`, one JSON line per item.
  public var shards: [PlanItems.SubSequence]

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
    executables = ["job.sbatch", "server.sh"]
    shards = plan.shards
  }

  /// The shard files by relative path, each with a function that hands its bytes to `sink` in
  /// pieces of about a mebibyte.
  public var shardFiles: [(path: String, write: @Sendable ((Data) throws -> Void) throws -> Void)] {
    shards.enumerated().map { index, items in
      ("shards/" + RunLayout.shardName(index), { sink in try Self.encode(items, into: sink) })
    }
  }

  static func encode(_ items: PlanItems.SubSequence, into sink: (Data) throws -> Void) throws {
    try items.base.encodeLines(items.startIndex..<items.endIndex, into: sink)
  }

  /// One shard file's whole text, for tests and dry-run views of small plans.
  public func shardText(_ index: Int) throws -> Data {
    var data = Data()
    try Self.encode(shards[index], into: { data.append($0) })
    return data
  }
}
