import Foundation

/// Shard files, written fast: the JSON line of each work item, byte for byte what
/// `JSONFormats.lineEncoder()` makes of it, from pieces encoded once.
///
/// An item's line is `{"format":…,"id":…,"input":…,"meta":…,"model":…,"options":…,"repeat":R,
/// "seq":S,"variant":…}` (sorted keys; `format` and `meta` only when set). Only `repeat` and
/// `seq` change from item to item: the prompt's pieces (`id`, `input`, `meta`) are encoded once
/// per prompt, and the variant's (`model`, `options`, `format`, `variant`) once per variant, or
/// once per prompt and variant where the prompt changes them (its own options, a system prompt or
/// Modelfile messages put before its input). Encoding every item whole took 20 s for a plan of
/// 1.2 million items (debug build); this writes the same bytes with a few hundred thousand
/// small encodes.
extension PlanItems {
  /// Hands the lines of items `range` to `sink`, in pieces of about `piece` bytes.
  public func encodeLines(_ range: Range<Int>, piece: Int = 1 << 20, into sink: (Data) throws -> Void) throws {
    let range = range.clamped(to: startIndex..<endIndex)
    guard !range.isEmpty else { return }
    let encoder = JSONFormats.lineEncoder()
    func json<T: Encodable>(_ value: T) throws -> [UInt8] { Array(try encoder.encode(value)) }
    // Each variant's own pieces, for prompts that change nothing of it.
    let plain = try variants.map { variant in
      Pieces(model: try json(variant.model), options: try json(variant.options), format: try variant.format.map(json), variant: try json(variant.name))
    }
    let seqKey = Array(#","seq":"#.utf8)
    var data = [UInt8]()
    data.reserveCapacity(piece + 64 * 1024)
    var index = promptIndex(containing: range.lowerBound)
    var seq = range.lowerBound
    while seq < range.upperBound {
      let prompt = prompts[index]
      let start = starts[index], end = starts[index + 1]
      defer { index += 1 }
      guard start < end else { continue }
      var id: [UInt8] = [], input: [UInt8] = []
      try JSONFormats.appendString(prompt.id, to: &id, encoder: encoder)
      if case .prompt(let text) = prompt.input {
        input = Array(#"{"prompt":"#.utf8)
        try JSONFormats.appendString(text, to: &input, encoder: encoder)
        input.append(UInt8(ascii: "}"))
      } else {
        input = try json(prompt.input)
      }
      let meta = try prompt.meta.map(json), format = try prompt.format.map(json)
      var current: (variant: Int, head: [UInt8], tail: [UInt8])?
      while seq < Swift.min(end, range.upperBound) {
        let offset = seq - start
        let variantIndex = chosen[index]?[offset / repeats] ?? offset / repeats
        if current?.variant != variantIndex {
          let variant = variants[variantIndex]
          var pieces = plain[variantIndex]
          if !prompt.options.isEmpty {
            var options = variant.options
            for (name, value) in prompt.options { options[name] = value }
            pieces.options = try json(options)
          }
          var itemInput = input
          if variant.messages != nil || variant.system != nil {
            var changed = variant.messages.map(prompt.input.withHistory) ?? prompt.input
            if let system = variant.system { changed = changed.withSystem(system) }
            itemInput = try json(changed)
          }
          var head: [UInt8] = []
          head.reserveCapacity(id.count + itemInput.count + pieces.model.count + pieces.options.count + (meta?.count ?? 0) + 64)
          func key(_ name: StaticString, _ value: [UInt8]) {
            JSONFormats.appendKey(name, first: head.isEmpty, to: &head)
            head.append(contentsOf: value)
          }
          if let itemFormat = format ?? pieces.format { key("format", itemFormat) }
          key("id", id)
          key("input", itemInput)
          if let meta { key("meta", meta) }
          key("model", pieces.model)
          key("options", pieces.options)
          head += Array(",\"repeat\":".utf8)
          current = (variantIndex, head, Array(",\"variant\":".utf8) + pieces.variant + [UInt8(ascii: "}"), UInt8(ascii: "\n")])
        }
        guard let (_, head, tail) = current else { break }
        data.append(contentsOf: head)
        JSONFormats.appendInt(offset % repeats + 1, to: &data)
        data.append(contentsOf: seqKey)
        JSONFormats.appendInt(seq, to: &data)
        data.append(contentsOf: tail)
        if data.count >= piece {
          try sink(Data(data))
          data.removeAll(keepingCapacity: true)
        }
        seq += 1
      }
    }
    if !data.isEmpty { try sink(Data(data)) }
  }

  /// A variant's encoded pieces.
  private struct Pieces {
    var model: [UInt8]
    var options: [UInt8]
    var format: [UInt8]?
    var variant: [UInt8]
  }

  /// The prompt whose items hold `seq` (the last whose items start at or before it).
  private func promptIndex(containing seq: Int) -> Int {
    var low = 0, high = prompts.count - 1
    while low < high {
      let middle = (low + high + 1) / 2
      if starts[middle] <= seq { low = middle } else { high = middle - 1 }
    }
    return low
  }
}
