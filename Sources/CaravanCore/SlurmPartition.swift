import Foundation

/// A cluster's partitions and their GPU GRES, as `sinfo` reports them (for `caravan init`).
public struct SlurmPartition: Sendable, Equatable {
  public var name: String
  /// The partition jobs land in without `--partition` (sinfo marks it with `*`).
  public var isDefault: Bool
  /// The distinct GPU GRES of its nodes, as Slurm writes them (`gpu:2`, `gpu:a100:4`).
  public var gpuGres: [String]

  public init(name: String, isDefault: Bool, gpuGres: [String]) {
    self.name = name
    self.isDefault = isDefault
    self.gpuGres = gpuGres
  }

  /// The most GPUs any of its nodes has (`gpu:a100:4(S:0-1)` counts 4), or nil without GPU GRES.
  public var maxGPUs: Int? {
    gpuGres.compactMap { Self.gpuCount($0) }.max()
  }

  /// `gpu:2` -> 2, `gpu:a100:4(S:0-1)` -> 4; nil when the text is not a GPU count.
  static func gpuCount(_ gres: String) -> Int? {
    let body = gres.split(separator: "(").first.map(String.init) ?? gres
    return body.split(separator: ":").last.flatMap { Int($0) }
  }

  /// Reads `sinfo -h -o '%P|%G'` output: one line per partition and node group, GRES
  /// comma-separated (`gpu:2,shard:4`) or `(null)`. Lines that are not `name|gres` are skipped.
  public static func parse(_ text: String) -> [SlurmPartition] {
    var partitions: [SlurmPartition] = []
    for line in text.split(whereSeparator: \.isNewline) {
      let fields = line.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
      guard fields.count == 2 else { continue }
      var name = fields[0].trimmingCharacters(in: .whitespaces)
      let isDefault = name.hasSuffix("*")
      if isDefault { name.removeLast() }
      guard !name.isEmpty else { continue }
      // GRES entries are separated by commas outside parentheses (`gpu:a100:4(S:0-1),shard:8`).
      var entries: [String] = [], current = "", depth = 0
      for character in fields[1].trimmingCharacters(in: .whitespaces) {
        if character == "(" { depth += 1 } else if character == ")" { depth = max(0, depth - 1) }
        if character == ",", depth == 0 { entries.append(current); current = "" } else { current.append(character) }
      }
      entries.append(current)
      let gpus = entries.filter { $0.hasPrefix("gpu:") }.map { $0.split(separator: "(").first.map(String.init) ?? $0 }
      if let index = partitions.firstIndex(where: { $0.name == name }) {
        partitions[index].isDefault = partitions[index].isDefault || isDefault
        for gres in gpus where !partitions[index].gpuGres.contains(gres) { partitions[index].gpuGres.append(gres) }
      } else {
        var unique: [String] = []
        for gres in gpus where !unique.contains(gres) { unique.append(gres) }
        partitions.append(SlurmPartition(name: name, isDefault: isDefault, gpuGres: unique))
      }
    }
    return partitions
  }

}
