import CaravanCore

/// How `task: embed` items travel: several inputs per request, up to `engine.embed_batch`.
public enum EmbedBatches {
  /// Cuts `items` into requests: items that share a model and options, in plan order, at most
  /// `size` each. A request is sent once its batch is full, or when no item of its kind is left.
  public static func batches(_ items: [WorkItem], size: Int) -> [[WorkItem]] {
    let size = max(1, size)
    var open: [BatchKey: Int] = [:]
    var batches: [[WorkItem]] = []
    for item in items {
      let key = BatchKey(model: item.model, options: item.options)
      if let index = open[key], batches[index].count < size {
        batches[index].append(item)
      } else {
        open[key] = batches.count
        batches.append([item])
      }
    }
    return batches
  }

  private struct BatchKey: Hashable {
    var model: String
    var options: Options
  }
}
