@testable import CaravanCore
import Testing

/// Expanding prompts × variants × repeats, and cutting the work into shards.
@Suite("Planner")
struct PlannerTests {
  func spec(repeats: Int = 1, shards: Int = 1, variants: [VariantSpec] = [], sweep: [SweepAxis] = [], distribution: JobSpec.Slurm.Distribution = .static) -> JobSpec {
    var spec = JobSpec(name: "demo", model: "gemma:7b", prompts: "prompts.jsonl")
    spec.repeats = repeats
    spec.slurm.shards = shards
    spec.slurm.distribution = distribution
    spec.variants = variants
    spec.sweep = sweep
    return spec
  }

  @Test("items = prompts × variants × repeats, in prompt, variant, repeat order with seq 0..n-1")
  func orderAndCount() {
    let variants = [VariantSpec(name: "cold", options: ["temperature": .double(0.1)]), VariantSpec(name: "warm", options: ["temperature": .double(0.9)])]
    let prompts = [prompt("a", line: 1), prompt("b", line: 2), prompt("c", line: 3)]
    let plan = Planner.plan(spec: spec(repeats: 2, variants: variants), prompts: prompts)

    #expect(plan.items.count == 3 * 2 * 2)
    #expect(plan.items.map(\.seq) == Array(0..<12))
    #expect(plan.items.map { "\($0.id)/\($0.variant)/\($0.repeat)" } == [
      "a/cold/1", "a/cold/2", "a/warm/1", "a/warm/2",
      "b/cold/1", "b/cold/2", "b/warm/1", "b/warm/2",
      "c/cold/1", "c/cold/2", "c/warm/1", "c/warm/2",
    ])
    #expect(plan.items.allSatisfy { $0.model == "gemma:7b" })
    #expect(plan.items[2].options == ["temperature": .double(0.9)])
    #expect(plan.items[4].input == .prompt("question b"))
    #expect(Set(plan.items.map(\.key)).count == plan.items.count)
  }

  @Test("a spec without variants runs each prompt once per repeat under 'default'")
  func defaultVariant() {
    let plan = Planner.plan(spec: spec(repeats: 3), prompts: [prompt("a", line: 1)])
    #expect(plan.variants == [Variant(name: "default", model: "gemma:7b", options: [:], baseModel: "gemma:7b")])
    #expect(plan.items.map(\.key) == (1...3).map { WorkKey(id: "a", variant: "default", repeat: $0) })
  }

  @Test("a prompt line's variants limit which variants it runs under")
  func perLineVariants() {
    let variants = ["default", "low-temp", "high-temp"].map { VariantSpec(name: $0) }
    let prompts = [
      prompt("singapore", line: 1, variants: ["default"]),
      prompt("birthday", line: 3, variants: ["high-temp", "low-temp"]),
      prompt("all", line: 4),
    ]
    let plan = Planner.plan(spec: spec(repeats: 3, variants: variants), prompts: prompts)
    #expect(plan.items.count == (1 + 2 + 3) * 3)
    // The spec's variant order wins over the order the line lists them in.
    #expect(plan.items.filter { $0.id == "birthday" }.map(\.variant) == ["low-temp", "low-temp", "low-temp", "high-temp", "high-temp", "high-temp"])
    #expect(plan.items.filter { $0.id == "singapore" }.allSatisfy { $0.variant == "default" })
    #expect(plan.items.map(\.seq) == Array(0..<18))
  }

  @Test("items made on demand: reading item n directly gives what walking to it gives, across prompts with no items")
  func randomAccessMatchesOrder() {
    let variants = ["a", "b", "c"].map { VariantSpec(name: $0) }
    let prompts = [
      prompt("none", line: 1, variants: []), prompt("one", line: 2, variants: ["b"]), prompt("none2", line: 3, variants: []),
      prompt("all", line: 4), prompt("two", line: 5, variants: ["c", "a"]), prompt("last-none", line: 6, variants: []),
    ]
    let plan = Planner.plan(spec: spec(repeats: 2, shards: 4, variants: variants), prompts: prompts)
    let walked = Array(plan.items)
    #expect(walked.count == (1 + 3 + 2) * 2 && plan.items.count == walked.count)
    #expect(walked.map(\.seq) == Array(0..<12))
    #expect(walked.map { "\($0.id)/\($0.variant)/\($0.repeat)" } == [
      "one/b/1", "one/b/2", "all/a/1", "all/a/2", "all/b/1", "all/b/2", "all/c/1", "all/c/2", "two/a/1", "two/a/2", "two/c/1", "two/c/2",
    ])
    for seq in walked.indices.reversed() { #expect(plan.items[seq] == walked[seq]) }
    #expect(plan.promptCount == 3)
    #expect(plan.shards.map { $0.map(\.seq) } == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]])
  }

  @Test("the tutorial job plans 2×1×3 + 1×4×3 = 18 requests")
  func tutorialPlan() throws {
    let spec = try SpecParser.parse(tutorialSpec, file: "tutorial.yaml")
    let prompts = try PromptFile.parse("""
      {"id": "singapore", "prompt": "What is Singapore?", "variants": ["default"]}
      {"id": "llm", "prompt": "What is a Large Language Model?", "variants": ["default"]}
      {"id": "birthday", "prompt": "Write a happy birthday message, I would like to send to my friend.", "variants": ["low-temp", "high-temp", "top-k-3", "top-k-200"]}
      """, file: "tutorial-prompts.jsonl")
    #expect(Planner.unknownVariantProblems(spec: spec, prompts: prompts, file: "tutorial-prompts.jsonl").isEmpty)
    let plan = Planner.plan(spec: spec, prompts: prompts)
    #expect(plan.items.count == 18)
    let birthday = plan.items.filter { $0.id == "birthday" }
    #expect(birthday.map(\.model) == ["low-temp", "high-temp", "top-k-3", "top-k-200"].flatMap { Array(repeating: "caravan-tutorial-\($0)", count: 3) })
    #expect(birthday.filter { $0.variant == "top-k-200" }.allSatisfy { $0.options.canonical == ["temperature": .double(0.5), "top_k": .int(200)] })
    #expect(plan.items.filter { $0.variant == "default" }.allSatisfy { $0.model == "gemma:7b" && $0.options.isEmpty })
  }

  @Test("shards are contiguous, differ in size by at most one, and cover every item once", arguments: [
    (1, 1), (7, 1), (7, 2), (7, 3), (10, 4), (12, 12), (100, 7), (5, 5),
  ])
  func balancedShards(itemCount: Int, shardCount: Int) throws {
    let prompts = (0..<itemCount).map { prompt("p\($0)", line: $0 + 1) }
    let plan = Planner.plan(spec: spec(shards: shardCount), prompts: prompts)

    #expect(plan.shards.count == shardCount)
    #expect(plan.shardsReduced == nil)
    let sizes = plan.shards.map(\.count)
    #expect(sizes.max()! - sizes.min()! <= 1)
    #expect(sizes.allSatisfy { $0 > 0 })
    // Concatenating the shards in order gives the plan back: contiguous, each item exactly once.
    #expect(plan.shards.flatMap { $0 } == Array(plan.items))
    for shard in plan.shards {
      let seqs = shard.map(\.seq)
      #expect(seqs == Array(seqs.first!...seqs.last!))
    }
  }

  @Test("asking for more shards than items uses one shard per item and says so")
  func shardsCapped() throws {
    let plan = Planner.plan(spec: spec(repeats: 2, shards: 10), prompts: [prompt("a", line: 1), prompt("b", line: 2)])
    #expect(plan.shards.count == 4)
    #expect(plan.shards.allSatisfy { $0.count == 1 })
    let reduced = try #require(plan.shardsReduced)
    #expect(reduced.requested == 10)
    #expect(reduced.used == 4)
  }

  @Test("a sweep runs the cartesian product, named option=value")
  func sweep() {
    let sweep = [SweepAxis(option: "temperature", values: [.double(0.1), .double(0.5)]), SweepAxis(option: "top_k", values: [.int(3), .int(200)])]
    let variants = Planner.variants(for: spec(sweep: sweep))
    #expect(variants.map(\.name) == ["temperature=0.1,top_k=3", "temperature=0.1,top_k=200", "temperature=0.5,top_k=3", "temperature=0.5,top_k=200"])
    #expect(variants[1].options == ["temperature": .double(0.1), "top_k": .int(200)])
    #expect(variants.allSatisfy { $0.model == "gemma:7b" && $0.create == nil })
    #expect(Planner.sweepVariantNames(sweep) == variants.map(\.name))
  }

  @Test("sweep variants come after the listed ones, and there is no 'default' then")
  func sweepAfterListed() {
    let variants = Planner.variants(for: spec(variants: [VariantSpec(name: "base")], sweep: [SweepAxis(option: "seed", values: [.int(1), .int(2)])]))
    #expect(variants.map(\.name) == ["base", "seed=1", "seed=2"])
  }

  @Test("a swept spec read from YAML names its variants the way the user wrote the values")
  func sweepFromYAML() throws {
    let spec = try SpecParser.parse(minimalSpec + """
      sweep:
        temperature: [0.1, 0.5]
        top_k: [3, 200]
      """, file: "job.yaml")
    #expect(Planner.variants(for: spec).map(\.name) == ["temperature=0.1,top_k=3", "temperature=0.1,top_k=200", "temperature=0.5,top_k=3", "temperature=0.5,top_k=200"])
  }

  @Test("a prompt line's options override the variant's")
  func lineOptionsOverride() {
    let variants = [VariantSpec(name: "cold", options: ["temperature": .double(0.1), "top_k": .int(3)])]
    let plan = Planner.plan(spec: spec(variants: variants), prompts: [prompt("a", line: 1, options: ["temperature": .double(0.7), "seed": .int(1)])])
    #expect(plan.items.first?.options == ["temperature": .double(0.7), "top_k": .int(3), "seed": .int(1)])
  }

  @Test("a Modelfile variant sends requests to the model it creates, with its PARAMETERs as options")
  func modelfileVariant() throws {
    let variants = [VariantSpec(name: "Low-Temp", modelfile: "FROM gemma:2b\nPARAMETER temperature 0.1\nPARAMETER top_k 3\n")]
    let variant = try #require(Planner.variants(for: spec(variants: variants)).first)
    #expect(variant.model == "caravan-demo-low-temp")
    #expect(variant.baseModel == "gemma:2b")
    #expect(variant.options.canonical == ["temperature": .double(0.1), "top_k": .int(3)])
    #expect(variant.create?.canonical == JSONValue.object([
      "model": .string("caravan-demo-low-temp"), "from": .string("gemma:2b"),
      "parameters": .object(["temperature": .double(0.1), "top_k": .int(3)]), "stream": .bool(false),
    ]).canonical)
    let plan = Planner.plan(spec: spec(variants: variants), prompts: [prompt("a", line: 1)])
    #expect(plan.items.first?.model == "caravan-demo-low-temp")
  }

  @Test("a Modelfile's SYSTEM becomes a system message on every request of that variant")
  func modelfileSystem() {
    let variants = [VariantSpec(name: "terse", modelfile: "FROM gemma:7b\nSYSTEM Answer in one sentence.\n"), VariantSpec(name: "plain")]
    let prompts = [
      prompt("a", line: 1),
      Prompt(id: "b", input: .messages([ChatMessage(role: "user", content: "Hi")]), line: 2),
      Prompt(id: "c", input: .messages([ChatMessage(role: "system", content: "Mine."), ChatMessage(role: "user", content: "Hi")]), line: 3),
    ]
    let plan = Planner.plan(spec: spec(variants: variants), prompts: prompts)
    let system = ChatMessage(role: "system", content: "Answer in one sentence.")
    #expect(plan.items.map(\.input) == [
      .messages([system, ChatMessage(role: "user", content: "question a")]), .prompt("question a"),
      .messages([system, ChatMessage(role: "user", content: "Hi")]), .messages([ChatMessage(role: "user", content: "Hi")]),
      // A conversation that brings its own system message keeps it.
      .messages([ChatMessage(role: "system", content: "Mine."), ChatMessage(role: "user", content: "Hi")]),
      .messages([ChatMessage(role: "system", content: "Mine."), ChatMessage(role: "user", content: "Hi")]),
    ])
  }

  @Test("a prompt line naming an undefined variant is reported at that line, with a suggestion")
  func unknownVariant() throws {
    let spec = spec(variants: [VariantSpec(name: "low-temp"), VariantSpec(name: "high-temp")])
    let prompts = [prompt("a", line: 1, variants: ["low-temp"]), prompt("b", line: 4, variants: ["high-tmp", "medium"])]
    let problems = Planner.unknownVariantProblems(spec: spec, prompts: prompts, file: "prompts.jsonl")
    #expect(problems.map(\.line) == [4, 4])
    #expect(problems.allSatisfy { $0.file == "prompts.jsonl" && $0.keyPath == "variants" })
    #expect(problems[0].message.contains("'high-tmp'"))
    #expect(problems[0].message.contains("did you mean 'high-temp'?"))
    #expect(problems[1].message.contains("'medium'"))
    #expect(problems[1].message.contains("low-temp, high-temp"))
  }

  @Test("sweep variant names are valid names for prompt lines to use")
  func sweepNamesUsableFromLines() {
    let spec = spec(sweep: [SweepAxis(option: "temperature", values: [.double(0.1), .double(0.9)])])
    let prompts = [prompt("a", line: 1, variants: ["temperature=0.9"])]
    #expect(Planner.unknownVariantProblems(spec: spec, prompts: prompts, file: "p.jsonl").isEmpty)
    #expect(Planner.plan(spec: spec, prompts: prompts).items.map(\.variant) == ["temperature=0.9"])
  }

  @Test("a swept value written 1.0 keeps that spelling in the variant name")
  func sweepNameKeepsDecimalPoint() throws {
    let spec = try SpecParser.parse(minimalSpec + """
      sweep:
        temperature: [0.5, 1.0]
      """, file: "job.yaml")
    #expect(Planner.variants(for: spec).map(\.name) == ["temperature=0.5", "temperature=1.0"])
  }

  @Test("dynamic distribution: chunks cover the plan in order, shrink as the work runs out, and end in single items", arguments: [
    (1, 1), (7, 3), (100, 3), (1000, 4), (100_000, 16),
  ])
  func dynamicChunks(itemCount: Int, tasks: Int) throws {
    let sizes = Planner.chunkSizes(items: itemCount, tasks: tasks)
    #expect(sizes.reduce(0, +) == itemCount)
    #expect(sizes.allSatisfy { $0 >= 1 })
    #expect(zip(sizes, sizes.dropFirst()).allSatisfy { $0 >= $1 }, "never growing")
    #expect(sizes.last == 1)
    // Each chunk holds an eighth of a task's share of what is left, rounded up.
    var left = itemCount
    for size in sizes {
      #expect(size == max(1, (left + 8 * tasks - 1) / (8 * tasks)))
      left -= size
    }
    // Few chunks on a large run: claims cost little per item.
    if itemCount >= 100_000 { #expect(Double(sizes.count) / Double(itemCount) < 0.02) }
  }

  @Test func dynamicIsTheDefaultWithMoreThanOneShard() throws {
    let prompts = (0..<100).map { prompt("p\($0)", line: $0 + 1) }
    var many = spec(shards: 3)
    many.slurm.distribution = nil
    let plan = Planner.plan(spec: many, prompts: prompts)
    #expect(plan.distribution == .dynamic && plan.tasks == 3)
    #expect(plan.shards.count == Planner.chunkSizes(items: 100, tasks: 3).count)
    #expect(plan.shards.flatMap { $0 } == Array(plan.items), "the chunks are the plan, in order")
    var one = spec(shards: 1)
    one.slurm.distribution = nil
    #expect(Planner.plan(spec: one, prompts: prompts).distribution == .static)
    var fixed = spec(shards: 3, distribution: .dynamic)
    fixed.slurm.chunkSize = 30
    #expect(Planner.plan(spec: fixed, prompts: prompts).shards.map(\.count) == [30, 30, 30, 10])
  }
}
