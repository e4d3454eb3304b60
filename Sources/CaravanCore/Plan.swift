/// A variant ready to run: the model a request names, the options it sends, and what to create first.
public struct Variant: Sendable, Equatable, Codable {
  public var name: String
  /// The model name requests use: the spec's model, or the model a Modelfile variant creates.
  public var model: String
  public var options: Options
  /// System prompt from a Modelfile's SYSTEM line, sent with every request of the variant.
  public var system: String?
  /// The `/api/create` body to register before the first request (Modelfile variants only).
  public var create: JSONValue?
  /// Base models this variant needs in the store.
  public var baseModel: String
  /// A Modelfile's MESSAGE lines, sent before each prompt where the server cannot create a
  /// model that holds them (engine.kind openai); nil otherwise.
  public var messages: [ChatMessage]?
  /// Structured output asked of every answer (`json` or a JSON schema), unless a prompt line
  /// gives its own.
  public var format: JSONValue?

  public init(name: String, model: String, options: Options, system: String? = nil, create: JSONValue? = nil, baseModel: String, messages: [ChatMessage]? = nil) {
    self.name = name
    self.model = model
    self.options = options
    self.system = system
    self.create = create
    self.baseModel = baseModel
    self.messages = messages
  }
}

/// What identifies one unit of work everywhere: prompt id, variant, repeat.
public struct WorkKey: Sendable, Hashable, Codable, CustomStringConvertible {
  public var id: String
  public var variant: String
  public var `repeat`: Int

  public init(id: String, variant: String, repeat: Int) {
    self.id = id
    self.variant = variant
    self.repeat = `repeat`
  }

  public var description: String { "\(id) / \(variant) / repeat \(`repeat`)" }
}

/// One request to send, fully resolved at plan time so the worker needs nothing else.
public struct WorkItem: Sendable, Equatable, Codable {
  /// Position in plan order (0-based); results are merged in this order.
  public var seq: Int
  public var id: String
  public var variant: String
  public var `repeat`: Int
  public var model: String
  public var input: PromptInput
  public var options: Options
  /// The prompt line's `meta`, for its records.
  public var meta: JSONValue?
  /// Structured output to ask for and check (`json` or a JSON schema); nil for free text.
  public var format: JSONValue?

  public var key: WorkKey { WorkKey(id: id, variant: variant, repeat: `repeat`) }

  public init(seq: Int, id: String, variant: String, repeat: Int, model: String, input: PromptInput, options: Options, meta: JSONValue? = nil) {
    self.meta = meta
    self.seq = seq
    self.id = id
    self.variant = variant
    self.repeat = `repeat`
    self.model = model
    self.input = input
    self.options = options
  }
}

/// The whole batch: items in plan order, cut into contiguous shards.
///
/// Items are not stored: `items` makes each one when it is read, from the prompts, variants and
/// repeats, so planning and writing shard files take memory for the prompts, not for
/// prompts × variants × repeats (1.2 million items once took half a gigabyte here).
public struct Plan: Sendable, Equatable {
  public var variants: [Variant] { items.variants }
  public let items: PlanItems
  /// Each shard's items; shard i is Slurm array task i.
  public let shards: [PlanItems.SubSequence]
  /// Array tasks (or nodes) that run the shards: one per shard with static distribution,
  /// fewer than the chunks they claim with dynamic.
  public var tasks: Int = 1
  /// How the tasks get the shards.
  public var distribution: JobSpec.Slurm.Distribution = .static
  /// Set when the spec asked for more shards than there are items.
  public var shardsReduced: (requested: Int, used: Int)?

  /// Prompts with at least one item.
  public var promptCount: Int { items.promptCount }

  public static func == (lhs: Plan, rhs: Plan) -> Bool {
    lhs.items.elementsEqual(rhs.items) && lhs.shards.map(\.indices) == rhs.shards.map(\.indices) && lhs.variants == rhs.variants && lhs.tasks == rhs.tasks
  }

  /// `tasks` nil: one task a shard (static distribution).
  init(items: PlanItems, shards: [PlanItems.SubSequence], tasks: Int? = nil) {
    self.items = items
    self.shards = shards
    self.tasks = tasks ?? shards.count
  }
}

/// Every work item of a plan, in plan order (prompt, then variant, then repeat), made on demand.
/// Item `seq` is found by a binary search over where each prompt's items start.
public struct PlanItems: RandomAccessCollection, Sendable {
  let prompts: [Prompt]
  let variants: [Variant]
  let repeats: Int
  /// The variants each prompt runs under, by index; nil for a prompt that runs under all.
  let chosen: [[Int]?]
  /// Index of each prompt's first item; one more entry, the total, at the end.
  let starts: [Int]

  init(prompts: [Prompt], variants: [Variant], repeats: Int) {
    self.prompts = prompts
    self.variants = variants
    self.repeats = Swift.max(1, repeats)
    var chosen: [[Int]?] = []
    var starts: [Int] = [0]
    chosen.reserveCapacity(prompts.count)
    starts.reserveCapacity(prompts.count + 1)
    for prompt in prompts {
      let picked = prompt.variants.map { names in variants.indices.filter { names.contains(variants[$0].name) } }
      chosen.append(picked)
      starts.append(starts[starts.count - 1].addingSaturating((picked?.count ?? variants.count).multipliedSaturating(by: self.repeats)))
    }
    self.chosen = chosen
    self.starts = starts
  }

  public var startIndex: Int { 0 }
  public var endIndex: Int { starts[starts.count - 1] }

  /// Prompts with at least one item.
  public var promptCount: Int { zip(starts, starts.dropFirst()).count { $0 < $1 } }

  public subscript(seq: Int) -> WorkItem {
    precondition(seq >= 0 && seq < endIndex, "work item \(seq) is outside the plan (0..<\(endIndex))")
    // The last prompt whose items start at or before `seq` (prompts without items start where the next does).
    var low = 0, high = prompts.count - 1
    while low < high {
      let middle = (low + high + 1) / 2
      if starts[middle] <= seq { low = middle } else { high = middle - 1 }
    }
    let prompt = prompts[low]
    let offset = seq - starts[low]
    let variant = variants[chosen[low]?[offset / repeats] ?? offset / repeats]
    var options = variant.options
    for (name, value) in prompt.options { options[name] = value }
    var input = variant.messages.map(prompt.input.withHistory) ?? prompt.input
    if let system = variant.system { input = input.withSystem(system) }
    var item = WorkItem(seq: seq, id: prompt.id, variant: variant.name, repeat: offset % repeats + 1, model: variant.model, input: input, options: options, meta: prompt.meta)
    item.format = prompt.format ?? variant.format
    return item
  }
}

/// Expands prompts × variants × repeats and shards the result.
public enum Planner {
  /// The variants a spec runs: listed ones, then the sweep's cartesian product, else `default`.
  public static func variants(for spec: JobSpec) -> [Variant] {
    var result: [Variant] = []
    for listed in spec.variants {
      // Each branch below adds this variant; its format is the variant's own, else the spec's.
      defer { result[result.count - 1].format = listed.format ?? spec.format }
      if let text = listed.modelfile, case .success(let modelfile) = Modelfile.parse(text), spec.engine.kind == .openai {
        // No model to create: PARAMETER lines are request options, SYSTEM and MESSAGE lines lead
        // every request of the variant (`EngineChecks` refused what cannot be carried over).
        let history = modelfile.messages.isEmpty ? nil : modelfile.messages
        result.append(Variant(name: listed.name, model: spec.model, options: modelfile.parameters, system: modelfile.system, baseModel: spec.model, messages: history))
      } else if let text = listed.modelfile, case .success(let modelfile) = Modelfile.parse(text) {
        let base = modelfile.from ?? spec.model
        let created = createdModelName(job: spec.name, variant: listed.name)
        // PARAMETER and SYSTEM travel with the created model, and are also sent per request so
        // each record shows them and a request never depends on server-side state alone.
        result.append(Variant(name: listed.name, model: created, options: modelfile.parameters, system: modelfile.system, create: modelfile.createRequest(name: created), baseModel: base))
      } else {
        result.append(Variant(name: listed.name, model: spec.model, options: listed.options, baseModel: spec.model))
      }
    }
    for point in sweepPoints(spec.sweep) {
      // The name keeps the value as written (`temperature=1.0`); the option is normalised.
      let name = point.map { "\($0.0)=\($0.1.compactDescription)" }.joined(separator: ",")
      // The parser refuses an option swept twice; should one get here, its first axis wins.
      let options = Dictionary(point.map { ($0.0, OllamaOptions.normalized(name: $0.0, value: $0.1)) }, uniquingKeysWith: { first, _ in first })
      var variant = Variant(name: name, model: spec.model, options: options, baseModel: spec.model)
      variant.format = spec.format
      result.append(variant)
    }
    if result.isEmpty {
      var variant = Variant(name: "default", model: spec.model, options: [:], baseModel: spec.model)
      variant.format = spec.format
      result.append(variant)
    }
    return result
  }

  /// The Ollama model a Modelfile variant is registered as: lowercase letters, digits, `.`, `_`
  /// and `-` only, since Ollama rejects other characters in model names.
  public static func createdModelName(job: String, variant: String) -> String {
    let allowed = "abcdefghijklmnopqrstuvwxyz0123456789._-"
    return String("caravan-\(job)-\(variant)".lowercased().map { allowed.contains($0) ? $0 : "-" })
  }

  /// Names of the sweep's variants, in order: `temperature=0.1,top_k=3`.
  public static func sweepVariantNames(_ sweep: [SweepAxis]) -> [String] {
    sweepPoints(sweep).map { point in point.map { "\($0.0)=\($0.1.compactDescription)" }.joined(separator: ",") }
  }

  /// The sweep's cartesian product; none past `InputLimits.maxVariants` points, which
  /// `PlanLimits` refuses before planning (so a checker that lists names cannot exhaust memory).
  private static func sweepPoints(_ sweep: [SweepAxis]) -> [[(String, JSONValue)]] {
    guard !sweep.isEmpty, PlanLimits.sweepPointCount(sweep) != nil else { return [] }
    var points: [[(String, JSONValue)]] = [[]]
    for axis in sweep {
      points = points.flatMap { point in axis.values.map { point + [(axis.option, $0)] } }
    }
    return points
  }

  /// Prompt lines that name variants the spec does not define.
  public static func unknownVariantProblems(spec: JobSpec, prompts: [Prompt], file: String) -> [Problem] {
    let names = variants(for: spec).map(\.name)
    var problems: [Problem] = []
    for prompt in prompts {
      for name in prompt.variants ?? [] where !names.contains(name) {
        var message = "variant '\(name)' is not defined in the spec"
        if let guess = closestMatch(to: name, among: names) { message += "; did you mean '\(guess)'?" }
        else { message += " (variants: \(names.joined(separator: ", ")))" }
        problems.append(Problem(file: file, line: prompt.line, keyPath: "variants", message: message))
      }
    }
    return problems
  }

  /// Plan order is prompt, then variant, then repeat, so a prompt's answers sit together.
  ///
  /// Static distribution cuts the items into one contiguous shard per task. Dynamic cuts them
  /// into more, smaller chunks (shard files too) that the tasks claim as they go (`chunkSizes`).
  public static func plan(spec: JobSpec, prompts: [Prompt]) -> Plan {
    let items = PlanItems(prompts: prompts, variants: variants(for: spec), repeats: spec.repeats)
    let taskCount = max(1, min(spec.slurm.shards, items.count))
    let sizes: [Int]
    if spec.slurm.resolvedDistribution == .dynamic {
      sizes = chunkSizes(items: items.count, tasks: taskCount, fixed: spec.slurm.chunkSize)
    } else {
      let base = items.count / taskCount, extra = items.count % taskCount
      sizes = (0..<taskCount).map { base + ($0 < extra ? 1 : 0) }
    }
    var shards: [PlanItems.SubSequence] = []
    var start = 0
    for size in sizes {
      shards.append(items[start..<start + size])
      start += size
    }
    var plan = Plan(items: items, shards: shards, tasks: taskCount)
    plan.distribution = spec.slurm.resolvedDistribution
    if taskCount < spec.slurm.shards { plan.shardsReduced = (spec.slurm.shards, taskCount) }
    return plan
  }

  /// Chunk sizes for dynamic distribution, in plan order. With `fixed`, every chunk (but the
  /// last) holds that many items. Otherwise the sizes shrink as the work runs out (guided
  /// self-scheduling): each chunk holds 1/(8·tasks) of what is left, at least one item. The
  /// first chunks are large, so claims cost few file-system operations per item on a big run,
  /// and the last are single items, so no task is left with a long chunk when the others are done.
  /// A run of N items has about 8·tasks·ln(N/(8·tasks)) + 8·tasks chunks.
  public static func chunkSizes(items: Int, tasks: Int, fixed: Int? = nil) -> [Int] {
    var sizes: [Int] = []
    var left = items
    let divisor = 8 * max(1, tasks)
    while left > 0 {
      let size = min(left, fixed.map { max(1, $0) } ?? max(1, (left + divisor - 1) / divisor))
      sizes.append(size)
      left -= size
    }
    return sizes.isEmpty ? [0] : sizes
  }
}

extension PromptInput {
  /// The input with earlier turns of a conversation before it (after a system message, if any).
  func withHistory(_ history: [ChatMessage]) -> PromptInput {
    switch self {
    case .prompt(let text):
      return .messages(history + [ChatMessage(role: "user", content: text)])
    case .messages(let messages):
      guard messages.first?.role == "system" else { return .messages(history + messages) }
      return .messages([messages[0]] + history + messages.dropFirst())
    }
  }

  /// The input with a system prompt added, unless it already starts with one.
  func withSystem(_ system: String) -> PromptInput {
    switch self {
    case .prompt(let text):
      return .messages([ChatMessage(role: "system", content: system), ChatMessage(role: "user", content: text)])
    case .messages(let messages):
      if messages.first?.role == "system" { return self }
      return .messages([ChatMessage(role: "system", content: system)] + messages)
    }
  }
}
