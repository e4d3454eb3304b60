import Foundation

/// Aggregates a run for the reports: merged records, fed one at a time in plan order, plus the
/// shards' timing events and GPU telemetry. It yields per-variant counts, per-node and per-GPU
/// timing, the sweep table, and bounded time series for charts. Memory does not grow with the
/// number of records or samples (only with nodes, GPUs, shards, variants and vocabulary; the
/// answers shown side by side are a bounded sample).
///
/// Feed timing events and telemetry before the records: they tell which GPU a record's `gpu`
/// (the server's CUDA_VISIBLE_DEVICES) names.
public struct RunStatistics: Sendable {
  /// One row of the timing table: a node, or one GPU of a node (`gpu` set).
  public struct NodeTiming: Sendable, Equatable {
    public var node: String
    /// The GPU's index as nvidia-smi numbers it, or the server's CUDA_VISIBLE_DEVICES when that
    /// names no single GPU with telemetry; nil for the row of the whole node.
    public var gpu: String?
    public var requests = 0
    public var errors = 0
    public var promptTokens = 0
    public var generatedTokens = 0
    /// Sums of Ollama's nanosecond fields, for rates.
    public var promptEvalNanoseconds = 0
    public var evalNanoseconds = 0
    public var loadNanoseconds = 0
    /// Sum of per-request wall time (several run at once, so this exceeds the wall span).
    public var requestMilliseconds = 0.0
    /// First request start and last request end seen, in seconds since 1970.
    public var firstStart: Double?
    public var lastEnd: Double?
    /// Time with at least one request in flight.
    public var busy = BusyTime()
    /// Server starts from the timing files: how many, and how long they took.
    public var servers = ServerStartups()
    /// GPU telemetry; nil when none was recorded for this row.
    public var telemetry: GPUSummary?

    public init(node: String, gpu: String? = nil) {
      self.node = node
      self.gpu = gpu
    }

    public var prefillTokensPerSecond: Double? { promptEvalNanoseconds > 0 ? Double(promptTokens) / Double(promptEvalNanoseconds) * 1e9 : nil }
    public var decodeTokensPerSecond: Double? { evalNanoseconds > 0 ? Double(generatedTokens) / Double(evalNanoseconds) * 1e9 : nil }
    /// Seconds from the first request's start to the last answer.
    public var wallSeconds: Double? { firstStart.flatMap { start in lastEnd.map { $0 - start } } }
    /// Seconds with at least one request in flight.
    public var busySeconds: Double? { firstStart == nil ? nil : busy.seconds }
    /// Generated tokens per second of wall time: the row's throughput.
    public var throughput: Double? { wallSeconds.flatMap { $0 > 0 ? Double(generatedTokens) / $0 : nil } }
    public var tokensPerJoule: Double? { telemetry?.tokensPerJoule(generatedTokens) }

    mutating func add(_ record: ResultRecord, start: Double?, end: Double?) {
      requests += 1
      if record.status == .error { errors += 1 }
      // The counts are the server's (or a hand-edited record's): sums saturate, never trap.
      promptTokens = promptTokens.addingSaturating(record.timings.promptEvalCount ?? 0)
      generatedTokens = generatedTokens.addingSaturating(record.timings.evalCount ?? 0)
      promptEvalNanoseconds = promptEvalNanoseconds.addingSaturating(record.timings.promptEvalDuration ?? 0)
      evalNanoseconds = evalNanoseconds.addingSaturating(record.timings.evalDuration ?? 0)
      loadNanoseconds = loadNanoseconds.addingSaturating(record.timings.loadDuration ?? 0)
      if record.wallMs.isFinite { requestMilliseconds += record.wallMs }
      if let start, let end {
        firstStart = min(firstStart ?? start, start)
        lastEnd = max(lastEnd ?? end, end)
        busy.add(start: start, end: end)
      }
    }
  }

  /// Server starts of a node or GPU, from the `server` lines of the timing files.
  public struct ServerStartups: Sendable, Equatable {
    public var count = 0
    var readySum = 0.0
    var readyCount = 0
    /// Slowest start to readiness, in milliseconds.
    public var readyMaxMs: Double?
    /// Longest model loading of one start (its models together), in milliseconds.
    public var modelLoadMaxMs: Double?

    public var readyMeanMs: Double? { readyCount > 0 ? readySum / Double(readyCount) : nil }

    mutating func add(_ event: ShardTimingEvent) {
      count += 1
      if let ready = event.startToReadyMs {
        readySum += ready
        readyCount += 1
        readyMaxMs = max(readyMaxMs ?? ready, ready)
      }
      if let loads = event.modelLoadMs, !loads.isEmpty {
        let load = loads.values.reduce(0, +)
        modelLoadMaxMs = max(modelLoadMaxMs ?? load, load)
      }
    }
  }

  /// A physical GPU: nvidia-smi's UUID on a node.
  public struct GPUIdentity: Sendable, Hashable {
    public var node: String
    public var uuid: String
  }

  /// What nvidia-smi called a GPU, and its row label.
  public struct GPUName: Sendable, Equatable {
    public var index: Int
    public var name: String
    public var label: String { String(index) }
  }

  /// A time span on a node's timeline (a server starting), in seconds since 1970.
  public struct Span: Sendable, Equatable {
    public var start: Double
    public var end: Double
  }

  /// Server start spans kept per node for the timeline (the rest are only counted).
  public static let serverSpansPerNode = 100

  public private(set) var nodes: [String: NodeTiming] = [:]
  /// Per-GPU rows, keyed by node and then GPU label.
  public private(set) var gpus: [String: [String: NodeTiming]] = [:]
  public private(set) var sweep: [VariantSweep]
  /// Mean requests in flight over time, per node.
  /// Starts at 1 ms slices and widens as the run's span needs: a 0.2 s run gets about 200
  /// slices, not one.
  public private(set) var concurrency = TimeBuckets<String>(capacity: 256, initialWidth: 0.001)
  /// Mean utilization.gpu over time, per GPU.
  public private(set) var utilization = TimeBuckets<GPUIdentity>(capacity: 256)
  public private(set) var gpuNames: [GPUIdentity: GPUName] = [:]
  /// Server start-to-ready spans per node (at most `serverSpansPerNode`).
  public private(set) var serverSpans: [String: [Span]] = [:]
  /// Per shard that had no telemetry in its latest run: why (`unavailable: ...`).
  public private(set) var telemetryGaps: [Int: String] = [:]
  /// `engine.parallel: auto`: what each task chose (its last run's line).
  public private(set) var parallelChoices: [Int: ParallelChoice] = [:]

  /// The in-flight count `parallel: auto` chose on one task, and the counts it tried.
  public struct ParallelChoice: Sendable, Equatable {
    public var task: Int
    public var node: String
    public var chosen: Int
    public var trials: [ParallelRamp.Trial]
  }
  /// The repeats' answers of the first prompts, for the reports to show side by side.
  public private(set) var answers: AnswerSample
  /// Error records by message, for the reports' most frequent errors. At most
  /// `errorMessageLimit` distinct messages are kept (each cut to 500 characters), so memory
  /// stays bounded; errors with further messages are counted in `otherErrorMessages`.
  public private(set) var errorMessages: [String: Int] = [:]
  public private(set) var otherErrorMessages = 0
  public static let errorMessageLimit = 1000
  /// Structured answers: parse and validity shares and enum labels, per variant.
  public private(set) var structured: StructuredTally
  /// Embedding vectors (`task: embed`): count, dimension, norms, inputs per second.
  public private(set) var embeddings = EmbeddingTally()
  private var usage: [GPUIdentity: GPUUsage] = [:]
  /// Per node, per CUDA_VISIBLE_DEVICES value: the GPUs a server with it had.
  private var serverDevices: [String: [String: [GPUInfo]]] = [:]
  private var labels: [String: [String: String]] = [:]
  private var index: [String: Int]
  /// The variant of the last record, and its place in `sweep`.
  private var lastVariant: (name: String, position: Int?)?
  /// The repeats of one (prompt, variant), which plan order keeps together.
  /// The answers of the prompt and variant being read, and each one's set of lowercased words.
  /// Word sets are sorted arrays without repeats (`sortedUnique`), compared by merging.
  private var group: (id: String, variant: String, answers: [String], wordSets: [[UInt64]])?

  /// GPU rows, sorted by node and then GPU label.
  public var gpuRows: [NodeTiming] {
    gpus.keys.sorted().flatMap { node in gpus[node]!.values.sorted { Self.labelOrder($0.gpu ?? "", $1.gpu ?? "") } }
  }

  /// Node rows, sorted by node.
  public var nodeRows: [NodeTiming] { nodes.values.sorted { $0.node < $1.node } }

  /// GPUs with telemetry, sorted by node and index.
  public var telemetryGPUs: [GPUIdentity] {
    usage.keys.sorted { ($0.node, gpuNames[$0]?.index ?? 0, $0.uuid) < ($1.node, gpuNames[$1]?.index ?? 0, $1.uuid) }
  }

  static func labelOrder(_ a: String, _ b: String) -> Bool {
    switch (Int(a), Int(b)) {
    case (let x?, let y?): return x < y
    case (.some, nil): return true
    case (nil, .some): return false
    default: return a < b
    }
  }

  public init(variants: [Variant], answers: AnswerSample = AnswerSample()) {
    self.answers = answers
    self.structured = StructuredTally(variants: variants)
    // A manifest edited by hand (or written before duplicates were refused) may name a variant
    // twice; it gets one row, and its records count once, towards it.
    var seen: Set<String> = []
    let unique = variants.filter { seen.insert($0.name).inserted }
    sweep = unique.map { variant in
      let options = variant.options.keys.sorted().map { "\($0)=\(variant.options[$0]!.compactDescription)" }.joined(separator: " ")
      return VariantSweep(variant: variant.name, options: options)
    }
    index = Dictionary(uniqueKeysWithValues: unique.enumerated().map { ($0.element.name, $0.offset) })
  }

  /// Adds one line of a shard's timing file.
  public mutating func add(_ event: ShardTimingEvent) {
    switch event.event {
    case .server:
      nodes[event.node, default: NodeTiming(node: event.node)].servers.add(event)
      let devices = event.cudaVisibleDevices ?? ""
      if let gpus = event.gpus, !gpus.isEmpty {
        serverDevices[event.node, default: [:]][devices] = gpus
        for gpu in gpus {
          let identity = GPUIdentity(node: event.node, uuid: gpu.uuid)
          if gpuNames[identity] == nil { gpuNames[identity] = GPUName(index: gpu.index, name: gpu.name) }
        }
      }
      if !devices.isEmpty || event.gpus?.isEmpty == false {
        let label = gpuLabel(node: event.node, devices: devices)
        gpus[event.node, default: [:]][label, default: NodeTiming(node: event.node, gpu: label)].servers.add(event)
      }
      if let started = event.startedAt.flatMap(ISOTimestamp.seconds), let ready = event.readyAt.flatMap(ISOTimestamp.seconds),
        serverSpans[event.node, default: []].count < Self.serverSpansPerNode
      {
        serverSpans[event.node, default: []].append(Span(start: started, end: max(started, ready)))
      }
    case .shard:
      if let chosen = event.parallelChosen {
        parallelChoices[event.shard] = ParallelChoice(task: event.shard, node: event.node, chosen: chosen, trials: event.parallelTrials ?? [])
      }
      // A task that found no work (dynamic distribution) used no GPU: no gap to report.
      guard let telemetry = event.telemetry, (event.requestsSent ?? 1) > 0 || event.chunks == nil else { return }
      telemetryGaps[event.shard] = telemetry == "ok" ? nil : "shard \(event.shard) on \(event.node): \(telemetry)"
    }
  }

  /// Adds the samples of one telemetry file (`telemetry/<node>/shard-NNNN.csv`), in file order.
  public mutating func addTelemetry<Samples: Sequence<GPUSample>>(node: String, samples: Samples) {
    var touched: Set<GPUIdentity> = []
    for sample in samples {
      let identity = GPUIdentity(node: node, uuid: sample.uuid)
      touched.insert(identity)
      usage[identity, default: GPUUsage()].add(sample)
      if gpuNames[identity] == nil { gpuNames[identity] = GPUName(index: sample.index, name: sample.name) }
      if let utilization = sample.utilization { self.utilization.addPoint(identity, at: sample.timestamp.timeIntervalSince1970, value: utilization) }
    }
    for identity in touched { usage[identity]!.endSeries() }
    // A server's devices may name a GPU by the UUID these samples just introduced.
    labels = [:]
  }

  public mutating func add(_ record: ResultRecord) {
    let end = ISOTimestamp.seconds(record.finishedAt)
    let start = end.map { $0 - record.wallMs / 1000 }
    nodes[record.node, default: NodeTiming(node: record.node)].add(record, start: start, end: end)
    if let start, let end { concurrency.addSpan(record.node, from: start, to: end) }
    if let devices = record.gpu, !devices.isEmpty {
      let label = gpuLabel(node: record.node, devices: devices)
      gpus[record.node, default: [:]][label, default: NodeTiming(node: record.node, gpu: label)].add(record, start: start, end: end)
    }

    if record.embedding == nil { answers.add(record) }  // a vector is no answer to show
    if record.status == .error { countError(record.error) }
    structured.add(record)
    embeddings.add(record)
    if group?.id != record.id || group?.variant != record.variant { closeGroup() }
    if group == nil { group = (record.id, record.variant, [], []) }
    // Plan order keeps a variant's records together: its place is looked up once a run of them.
    if record.variant != lastVariant?.name { lastVariant = (record.variant, index[record.variant]) }
    guard let position = lastVariant?.position else { return }
    if record.status == .error {
      sweep[position].errors += 1
      return
    }
    let text = record.response ?? ""
    let words = Self.wordHashes(text)
    group?.answers.append(text)
    sweep[position].responses += 1
    sweep[position].lengthSum += Double(words.count)
    sweep[position].lengthSquareSum += Double(words.count) * Double(words.count)
    sweep[position].unigramCount += words.count
    if words.count > 1 {
      for i in 1..<words.count { sweep[position].bigrams.insert(Self.pairHash(words[i - 1], words[i])) }
      sweep[position].bigramCount += words.count - 1
    }
    // The answer's word set, for its repeats' similarity: the same array, sorted in place. Its
    // words go into the variant's distinct words once each.
    let wordSet = Self.sortedUnique(consume words)
    sweep[position].unigrams.formUnion(wordSet)
    group?.wordSets.append(wordSet)
  }

  private mutating func countError(_ message: String?) {
    let text = message.map { String($0.trimmingCharacters(in: .whitespacesAndNewlines).prefix(500)) } ?? ""
    let key = text.isEmpty ? "(no message)" : text
    if errorMessages[key] != nil || errorMessages.count < Self.errorMessageLimit {
      errorMessages[key, default: 0] += 1
    } else {
      otherErrorMessages += 1
    }
  }

  /// The `limit` most frequent error messages, most frequent first (ties by message).
  public func frequentErrors(_ limit: Int = 10) -> [(message: String, count: Int)] {
    errorMessages.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(limit).map { ($0.key, $0.value) }
  }

  /// Call after the last record.
  public mutating func finish() {
    closeGroup()
    var byRow: [String: [String: [GPUUsage]]] = [:]
    for (identity, gpu) in usage {
      let label = gpuNames[identity]?.label ?? identity.uuid
      byRow[identity.node, default: [:]][label, default: []].append(gpu)
    }
    for (node, rows) in byRow {
      nodes[node, default: NodeTiming(node: node)].telemetry = GPUSummary(rows.values.flatMap { $0 })
      for (label, usages) in rows {
        gpus[node, default: [:]][label, default: NodeTiming(node: node, gpu: label)].telemetry = GPUSummary(usages)
      }
    }
  }

  /// The row label for a server's CUDA_VISIBLE_DEVICES on a node: the nvidia-smi index of its one
  /// GPU when the timing files or telemetry say which GPU that is, else the value itself (so a
  /// server with several GPUs gets a row of its own, without telemetry).
  private mutating func gpuLabel(node: String, devices: String) -> String {
    if let known = labels[node]?[devices] { return known }
    var label = devices
    if let gpus = serverDevices[node]?[devices], gpus.count == 1 {
      label = String(gpus[0].index)
    } else if let match = usage.keys.first(where: { $0.node == node && $0.uuid == devices }), let name = gpuNames[match] {
      label = name.label
    }
    labels[node, default: [:]][devices] = label
    return label
  }

  /// Per variant: the tutorial's lesson, measured.
  public struct VariantSweep: Sendable, Equatable {
    public var variant: String
    public var options: String
    public var responses = 0
    public var errors = 0
    /// Prompts that had at least one answer under this variant.
    public var prompts = 0
    /// Sum over prompts of distinct answers among that prompt's repeats (divide by `prompts`).
    var distinctAnswerSum = 0
    /// Sum over prompts of the mean pairwise word-set similarity of its repeats.
    var similaritySum = 0.0
    var promptsWithPairs = 0
    var lengthSum = 0.0
    var lengthSquareSum = 0.0
    /// Distinct words and word pairs, as 64-bit hashes of their text (`wordHashes`).
    var unigrams = HashSet64()
    var bigrams = HashSet64()
    var unigramCount = 0
    var bigramCount = 0

    // Nil, not 0, where there is nothing to measure (a variant whose every record is an error):
    // the reports leave such a cell empty.
    public var distinctAnswersPerPrompt: Double? { prompts > 0 ? Double(distinctAnswerSum) / Double(prompts) : nil }
    public var meanLength: Double? { responses > 0 ? lengthSum / Double(responses) : nil }
    /// Needs two answers.
    public var lengthStdev: Double? {
      guard responses > 1, let mean = meanLength else { return nil }
      return (max(0, lengthSquareSum / Double(responses) - mean * mean) * Double(responses) / Double(responses - 1)).squareRoot()
    }
    /// Distinct words over all words (higher: more varied wording).
    public var distinct1: Double? { unigramCount > 0 ? Double(unigrams.count) / Double(unigramCount) : nil }
    public var distinct2: Double? { bigramCount > 0 ? Double(bigrams.count) / Double(bigramCount) : nil }
    /// Mean Jaccard similarity of the word sets of two repeats of the same prompt (1: identical).
    public var meanPairwiseSimilarity: Double? { promptsWithPairs > 0 ? similaritySum / Double(promptsWithPairs) : nil }
  }

  /// `text`'s words (split at whitespace), lowercased. ASCII text, most answers, is split and
  /// lowercased byte by byte: splitting a String by `Character.isWhitespace` looks up Unicode
  /// properties for every character, a fifth of collect's time on a million records. Other
  /// text takes the Unicode path; both give the same words.
  static func lowercasedWords(_ text: String) -> [String] {
    var ascii = true
    var words: [String] = []
    var word: [UInt8] = []
    for byte in text.utf8 {
      if byte >= 0x80 {
        ascii = false
        break
      }
      if byte == 0x20 || (0x09...0x0D).contains(byte) {
        if !word.isEmpty {
          words.append(String(decoding: word, as: UTF8.self))
          word.removeAll(keepingCapacity: true)
        }
      } else {
        word.append((0x41...0x5A).contains(byte) ? byte + 0x20 : byte)
      }
    }
    guard ascii else { return text.split(whereSeparator: \.isWhitespace).map { $0.lowercased() } }
    if !word.isEmpty { words.append(String(decoding: word, as: UTF8.self)) }
    return words
  }

  /// `lowercasedWords(text)`, each as its `wordHash`, without making a String per word: the
  /// sweep only counts and compares words, and a million answers of 40 words made 40 million
  /// Strings. Two words of 64-bit hashes collide with a chance of about n²/2⁶⁵, nothing next
  /// to the rounding of the ratios they feed.
  static func wordHashes(_ text: String) -> [UInt64] {
    var contiguous = text
    return contiguous.withUTF8 { utf8 -> [UInt64] in
      let bytes = UnsafeRawBufferPointer(utf8)
      guard let base = bytes.baseAddress else { return [] }
      var hashes: [UInt64] = []
      hashes.reserveCapacity(bytes.count / 4)
      var start = 0
      func endWord(at end: Int) {
        if end > start { hashes.append(wordHash(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))) }
        start = end + 1
      }
      // Eight bytes at a time: their separators found at once, as a mask of top bits.
      var chunk = 0
      while chunk < bytes.count {
        let count = min(8, bytes.count - chunk)
        let word = (base + chunk).littleEndianWord(count: count)
        if word & 0x8080_8080_8080_8080 != 0 { return lowercasedWords(text).map { word in wordHash(word) } }
        var separators = asciiSeparators(word) & (count == 8 ? ~0 : (1 << UInt64(8 * count)) - 1)
        while separators != 0 {
          endWord(at: chunk + separators.trailingZeroBitCount / 8)
          separators &= separators - 1
        }
        chunk += 8
      }
      endWord(at: bytes.count)
      return hashes
    }
  }

  /// The top bit of each byte of `bytes` (all ASCII) that is a space, a tab, a line feed, a
  /// vertical tab, a form feed or a carriage return: `Character.isWhitespace` within ASCII.
  static func asciiSeparators(_ bytes: UInt64) -> UInt64 {
    let ones: UInt64 = 0x0101_0101_0101_0101, tops = ones &* 0x80
    // Where a byte is zero, exactly (no borrow from a neighbour): the space's bytes, XORed.
    let spaces = bytes ^ (ones &* 0x20)
    let isSpace = ~(((spaces & (ones &* 0x7F)) &+ ones &* 0x7F) | spaces) & tops
    // 0x09 through 0x0D: at least 0x09 and not at least 0x0E.
    let controls = (bytes &+ ones &* (0x80 - 0x09)) & ~(bytes &+ ones &* (0x80 - 0x0E)) & tops
    return isSpace | controls
  }

  static func wordHash(_ word: String) -> UInt64 {
    var word = word
    return word.withUTF8 { wordHash(UnsafeRawBufferPointer($0)) }
  }

  /// A word's hash, ASCII capitals taken as small letters: its UTF-8 mixed 8 bytes at a time
  /// (a multiplication per 8 bytes, where a byte-wise hash such as FNV-1a takes one per byte).
  /// Both steps of the mix can be undone, so two words of at most 8 bytes never share a hash.
  static func wordHash(_ word: UnsafeRawBufferPointer) -> UInt64 {
    guard let base = word.baseAddress else { return 0 }
    var hash = 0x9E37_79B9_7F4A_7C15 ^ UInt64(word.count)
    var offset = 0
    while offset < word.count {
      let mixed = (hash ^ lowercasedASCII(base.advanced(by: offset).littleEndianWord(count: word.count - offset))) &* 0xBF58_476D_1CE4_E5B9
      hash = mixed ^ mixed >> 29
      offset += 8
    }
    return hash
  }


  /// `bytes` with each of its bytes that is an ASCII capital made small (0x20 added), all eight
  /// at once; other bytes, those beyond ASCII included, stay as they are.
  static func lowercasedASCII(_ bytes: UInt64) -> UInt64 {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let low7 = bytes & (ones &* 0x7F)
    // A byte's top bit set where its low 7 bits are at least "A", and where they pass "Z".
    let fromA = low7 &+ ones &* (0x80 - 0x41)
    let pastZ = low7 &+ ones &* (0x80 - 0x5B)
    let capitals = fromA & ~pastZ & ~bytes & (ones &* 0x80)
    return bytes | capitals >> 2
  }

  /// `values` sorted, each once: a word set that two sets' intersection and union merge.
  static func sortedUnique(_ values: consuming [UInt64]) -> [UInt64] {
    var sorted = values
    guard sorted.count > 1 else { return sorted }
    guard sorted.count <= 64 else {
      sorted.sort()
      var kept = 1
      for index in 1..<sorted.count where sorted[index] != sorted[kept - 1] {
        sorted[kept] = sorted[index]
        kept += 1
      }
      sorted.removeLast(sorted.count - kept)
      return sorted
    }
    // An answer's few dozen words: repeats dropped through a small table, then the distinct
    // ones sorted by insertion, in place (`sort` allocates a buffer for its merges, and
    // sorting every repeat of a word first was a twentieth of collect's time).
    let kept = sorted.withUnsafeMutableBufferPointer { buffer in
      withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 128) { table -> Int in
        table.initialize(repeating: 0)
        var kept = 0, sawZero = false
        for value in buffer {
          if value == 0 {
            // 0 marks an empty slot; the word whose hash it is counts once all the same.
            if !sawZero { (sawZero, buffer[kept], kept) = (true, 0, kept + 1) }
            continue
          }
          var slot = Int(truncatingIfNeeded: (value &* 0x9E37_79B9_7F4A_7C15) >> 57)
          while table[slot] != 0, table[slot] != value { slot = (slot + 1) & 127 }
          guard table[slot] == 0 else { continue }
          table[slot] = value
          buffer[kept] = value
          kept += 1
        }
        for index in 1..<max(kept, 1) {
          let value = buffer[index]
          var hole = index
          while hole > 0, buffer[hole - 1] > value {
            buffer[hole] = buffer[hole - 1]
            hole -= 1
          }
          buffer[hole] = value
        }
        return kept
      }
    }
    sorted.removeLast(sorted.count - kept)
    return sorted
  }

  /// How many different texts `answers` holds (equal as Strings are: Unicode's canonical
  /// equivalence). A prompt's few repeats are compared in pairs, which costs less than hashing
  /// each whole answer; many go through a Set.
  static func distinctCount(_ answers: [String]) -> Int {
    guard answers.count <= 16 else { return Set(answers).count }
    var distinct = 0
    for (index, answer) in answers.enumerated() where !answers[..<index].contains(answer) { distinct += 1 }
    return distinct
  }

  /// Jaccard similarity of two `sortedUnique` sets: 1 for two empty sets.
  static func jaccard(_ a: [UInt64], _ b: [UInt64]) -> Double {
    var i = 0, j = 0, common = 0
    while i < a.count, j < b.count {
      if a[i] == b[j] {
        common += 1
        i += 1
        j += 1
      } else if a[i] < b[j] {
        i += 1
      } else {
        j += 1
      }
    }
    let union = a.count + b.count - common
    return union == 0 ? 1 : Double(common) / Double(union)
  }

  /// One hash for a pair of word hashes (SplitMix64's finalizer over their mix).
  static func pairHash(_ first: UInt64, _ second: UInt64) -> UInt64 {
    var z = (first &* 0x9E37_79B9_7F4A_7C15) ^ second
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  private mutating func closeGroup() {
    guard let current = group, let position = index[current.variant] else {
      group = nil
      return
    }
    group = nil
    guard !current.answers.isEmpty else { return }
    sweep[position].prompts += 1
    sweep[position].distinctAnswerSum += Self.distinctCount(current.answers)
    let sets = current.wordSets
    guard sets.count > 1 else { return }
    var total = 0.0, pairs = 0
    for i in 0..<sets.count {
      for j in (i + 1)..<sets.count {
        total += Self.jaccard(sets[i], sets[j])
        pairs += 1
      }
    }
    sweep[position].similaritySum += total / Double(pairs)
    sweep[position].promptsWithPairs += 1
  }
}
