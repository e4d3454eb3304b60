/// What `collect`, `status` and the worker need to be true of a run's `manifest.json` before
/// they size tables by its counts: `caravan submit` writes it so, but it is a file a person can
/// edit (or damage), and a negative or enormous count would trap or exhaust memory.
extension Manifest {
  /// Problems with the shard table, as sentences; empty when it can be read safely.
  public var problems: [String] {
    var problems: [String] = []
    var total = 0
    var indices: Set<Int> = []
    for shard in shards {
      if shard.items < 0 { problems.append("shard \(shard.index) has \(shard.items) items; a count cannot be negative") }
      if shard.index < 0 { problems.append("shard index \(shard.index) is negative") }
      if !indices.insert(shard.index).inserted { problems.append("shard \(shard.index) is listed twice") }
      total = total.addingSaturating(max(0, shard.items))
    }
    if let tasks, tasks < 1 || (distribution == .static && tasks != shards.count) {
      problems.append("tasks is \(tasks), but a run needs at least one task, and with static distribution one a shard (\(shards.count))")
    }
    if total > InputLimits.maxItems {
      problems.append("its shards hold \(grouped(total)) work items, more than the \(grouped(InputLimits.maxItems)) caravan submit writes")
    } else if total != totalItems {
      problems.append("total_items is \(totalItems) but its shards hold \(total)")
    }
    return problems
  }
}
