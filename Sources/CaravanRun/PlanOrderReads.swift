import CaravanCore
import CaravanStorage
import Foundation

/// One item of a shard in plan order, with the record collect keeps for it.
struct PlannedRead: Sendable {
  var item: PlannedKey
  /// The kept record's line and the record read from it; nil when the item has none.
  var found: (line: Data, record: ResultRecord)?

  /// What is left in a batch where a read was moved out.
  static let taken = PlannedRead(item: PlannedKey(seq: -1, id: "", variant: "", repeat: 0))
}

/// Where a shard's kept records are: pass 1 of collect finds them, pass 2 reads them.
struct KeptRecords: Sendable {
  /// Where one item's kept record is. One value per item, so that pass 1, which meets the items
  /// in the order their records were written, touches one place in memory per record; 12
  /// bytes, so that a shard of 250,000 items takes 3 MB.
  struct Place: Sendable {
    private var offsetLow: UInt32
    private var offsetHigh: UInt16
    /// Which of the shard's results files holds it.
    private(set) var file: UInt16
    /// Its length in bytes; 0 when the item has no record (a record's line is never empty).
    var length: Int32

    /// Offsets are below 2^48 (256 TiB): `init` is nil for any other.
    init?(offset: Int, length: Int32, file: UInt16) {
      guard offset >= 0, offset < 1 << 48 else { return nil }
      (offsetLow, offsetHigh) = (UInt32(truncatingIfNeeded: offset), UInt16(truncatingIfNeeded: offset >> 32))
      (self.length, self.file) = (length, file)
    }

    private init() {
      (offsetLow, offsetHigh, file, length) = (0, 0, 0, 0)
    }

    /// Its byte offset; -1 when the item has no record.
    var offset: Int { length > 0 ? Int(offsetHigh) << 32 | Int(offsetLow) : -1 }

    static let none = Place()
  }

  /// Per item of the shard.
  var places: [Place]
  var resultFiles: [String]
}

/// Pass 2 of collect, reading side: the shard file's items in plan order, each with its kept
/// record read (pread) and decoded. Reading and decoding is most of collect's work, so it runs
/// on `readers` threads, each taking every `readers`-th batch of items, while collect's own
/// thread counts and writes what they give, in order.
///
/// It gives exactly what one loop over the shard file would, in the same order. A failure (a
/// shard line or a record that is not JSON, a short read) comes after the items before it.
final class PlanOrderReads {
  private let lanes: [Lane]
  private let batchSize: Int
  private var batch = Batch(reads: [], failure: nil)
  private var position = 0
  private var batchNumber = 0
  private var ended = false

  /// Reads at most `items` lines of `shardFile`.
  init(shardFile: String, items: Int, kept: KeptRecords, readers: Int = 2, batchSize: Int = 256) {
    self.batchSize = batchSize
    lanes = (0..<max(1, readers)).map { _ in Lane() }
    for (number, lane) in lanes.enumerated() {
      let lanesCount = lanes.count
      let thread = Thread {
        Self.read(
          shardFile: shardFile, items: items, kept: kept, batchSize: batchSize,
          batches: { $0 % lanesCount == number }, into: lane)
      }
      thread.name = "caravan collect reads"
      thread.start()
    }
  }

  /// Stops the reading threads (when collect ends early) and waits for them.
  deinit { lanes.forEach { $0.cancel() } }

  /// The next item in plan order; nil after the last one.
  func next() throws -> PlannedRead? {
    while position == batch.reads.count {
      if let failure = batch.failure { throw failure }
      // A batch shorter than the rest is the shard's last.
      guard !ended else { return nil }
      batch = lanes[batchNumber % lanes.count].take()
      batchNumber += 1
      position = 0
      ended = batch.reads.count < batchSize
    }
    // Moved out of the batch, not copied (a copy retained each of its strings and buffers).
    var read = PlannedRead.taken
    swap(&read, &batch.reads[position])
    position += 1
    return read
  }

  /// The reads of one thread: the batches `batches` picks, each put into `lane` in turn,
  /// ending with a short (perhaps empty) one.
  private static func read(
    shardFile: String, items: Int, kept: KeptRecords, batchSize: Int, batches: (Int) -> Bool, into lane: Lane
  ) {
    defer { lane.finish() }
    let decoder = JSONDecoder()
    let results = kept.resultFiles.map { LineAt(path: $0) }
    var lines = LineReader(path: shardFile, chunkSize: 256 << 10)
    var keys: [PlannedKey] = []
    keys.reserveCapacity(batchSize)
    var position = 0, linesEnded = false
    while position < items, !linesEnded {
      let first = position
      let mine = batches(first / batchSize)
      keys.removeAll(keepingCapacity: true)
      var failure: (any Error)?
      // The batch's plan lines; those of the other threads' batches are passed over unread.
      while position < min(items, first + batchSize), failure == nil {
        let more = lines.nextLine { _, bytes in
          guard mine else { return }
          do {
            keys.append(try PlannedKey.read(bytes) ?? decoder.decode(PlannedKey.self, from: Data(bytes)))
          } catch {
            failure = error
          }
        }
        guard more else {
          linesEnded = true
          break
        }
        position += 1
      }
      guard mine else { continue }
      let batch = Self.batch(keys, first: first, kept: kept, results: results, decoder: decoder, failure: failure)
      guard lane.put(batch), batch.reads.count == batchSize, batch.failure == nil else { return }
    }
    lane.put(Batch(reads: [], failure: nil))
  }

  /// The items `keys` (from plan position `first` on) with their kept records: read into one
  /// buffer (one allocation a batch, not one a record) and decoded. A record that cannot be
  /// read or decoded ends the batch before it, with its error; else `failure` (a plan line's)
  /// ends it.
  private static func batch(
    _ keys: [PlannedKey], first: Int, kept: KeptRecords, results: [LineAt?], decoder: JSONDecoder, failure: (any Error)?
  ) -> Batch {
    // Per item: where its record is, and where it goes in the buffer.
    var places: [(file: LineAt, offset: Int, range: Range<Int>)?] = []
    places.reserveCapacity(keys.count)
    var size = 0
    for place in kept.places[first..<first + keys.count] {
      guard place.offset >= 0, let file = results[Int(place.file)] else {
        places.append(nil)
        continue
      }
      places.append((file, place.offset, size..<size + Int(place.length)))
      size += Int(place.length)
    }
    var bytes = Data(count: size)
    var readable = keys.count, batchFailure = failure
    bytes.withUnsafeMutableBytes { buffer in
      for (index, place) in places.enumerated() {
        guard let place else { continue }
        do {
          try place.file.read(offset: place.offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[place.range]))
        } catch {
          (readable, batchFailure) = (index, error)
          return
        }
      }
    }
    var reads: [PlannedRead] = []
    reads.reserveCapacity(readable)
    for (key, place) in zip(keys, places).prefix(readable) {
      var read = PlannedRead(item: key)
      if let range = place?.range {
        // A slice shares the batch's buffer.
        let line = bytes[range]
        do {
          read.found = (line, try FastJSON.decode(ResultRecord.self, from: line, decoder: decoder))
        } catch {
          return Batch(reads: reads, failure: error)
        }
      }
      reads.append(read)
    }
    return Batch(reads: reads, failure: batchFailure)
  }

  /// Up to `batchSize` items in plan order; a failure ends the shard after them.
  private struct Batch: Sendable {
    var reads: [PlannedRead]
    var failure: (any Error)?
  }

  /// Batches from one reading thread to collect's, at most two waiting (a MiB or two).
  private final class Lane: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [Batch] = []
    private var finished = false
    private var cancelled = false
    private let capacity = 2

    /// False once collect stopped reading: the thread then ends.
    @discardableResult
    func put(_ batch: Batch) -> Bool {
      condition.lock()
      defer { condition.unlock() }
      while queue.count >= capacity && !cancelled { condition.wait() }
      guard !cancelled else { return false }
      queue.append(batch)
      condition.broadcast()
      return true
    }

    func finish() {
      condition.lock()
      finished = true
      condition.broadcast()
      condition.unlock()
    }

    /// The next batch; an empty one once the thread has ended.
    func take() -> Batch {
      condition.lock()
      defer { condition.unlock() }
      while queue.isEmpty && !finished { condition.wait() }
      guard !queue.isEmpty else { return Batch(reads: [], failure: nil) }
      let next = queue.removeFirst()
      condition.broadcast()
      return next
    }

    /// Tells the thread to stop, and waits until it has.
    func cancel() {
      condition.lock()
      cancelled = true
      condition.broadcast()
      while !finished { condition.wait() }
      condition.unlock()
    }
  }
}
