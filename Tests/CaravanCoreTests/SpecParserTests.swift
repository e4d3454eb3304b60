@testable import CaravanCore
import Foundation
import Testing

/// Reading job specs: every key lands in the right field, and what is left out gets the defaults.
@Suite("Spec parsing")
struct SpecParserTests {
  static let fullSpec = """
    name: birthday-sweep
    model: gemma:7b
    prompts: prompts/birthday.jsonl
    repeats: 3
    output: /scratch/runs
    executor: slurm
    engine:
      kind: sim
      command: ollama serve --verbose
      parallel: 8
      models_dir: /scratch/ollama-models
      env:
        OLLAMA_KEEP_ALIVE: "-1"
        OLLAMA_FLASH_ATTENTION: "1"
      ready_timeout: 900
      request_timeout: 1200
    variants:
      - name: cold
        options:
          temperature: 0.1
          top_k: 3
          stop: "</s>"
      - name: high-temp
        modelfile: |
          FROM gemma:7b
          PARAMETER temperature 1.0
    sweep:
      temperature: [0.5, 0.9]
      top_k: [3, 200]
    slurm:
      partition: gpu
      account: proj123
      qos: normal
      time: "01:30:00"
      shards: 4
      gpus_per_node: 2
      cpus_per_task: 8
      mem: 64G
      setup:
        - module load apptainer
        - export TMPDIR=/scratch/tmp
      extra:
        - --constraint=a100
      grace: 300
    container:
      runtime: apptainer
      image: /images/ollama.sif
      flags: [--nv, --containall]
      binds:
        - /scratch:/scratch

    """

  @Test("every key of a full YAML spec lands in its field")
  func fullSpecReadsEveryKey() throws {
    let spec = try SpecParser.parse(Self.fullSpec, file: "birthday.yaml")

    #expect(spec.name == "birthday-sweep")
    #expect(spec.model == "gemma:7b")
    #expect(spec.prompts == "prompts/birthday.jsonl")
    #expect(spec.repeats == 3)
    #expect(spec.output == "/scratch/runs")
    #expect(spec.executor == .slurm)

    var engine = JobSpec.Engine()
    engine.kind = .sim
    engine.command = "ollama serve --verbose"
    engine.parallel = 8
    engine.modelsDir = "/scratch/ollama-models"
    engine.env = ["OLLAMA_KEEP_ALIVE": "-1", "OLLAMA_FLASH_ATTENTION": "1"]
    engine.readyTimeout = 900
    engine.requestTimeout = 1200
    #expect(spec.engine == engine)

    #expect(spec.variants == [
      VariantSpec(name: "cold", options: ["temperature": .double(0.1), "top_k": .int(3), "stop": .array([.string("</s>")])]),
      VariantSpec(name: "high-temp", modelfile: "FROM gemma:7b\nPARAMETER temperature 1.0\n"),
    ])
    #expect(spec.sweep == [
      SweepAxis(option: "temperature", values: [.double(0.5), .double(0.9)]),
      SweepAxis(option: "top_k", values: [.int(3), .int(200)]),
    ])

    var slurm = JobSpec.Slurm()
    slurm.partition = "gpu"
    slurm.account = "proj123"
    slurm.qos = "normal"
    slurm.time = "01:30:00"
    slurm.shards = 4
    slurm.gpusPerNode = 2
    slurm.cpusPerTask = 8
    slurm.mem = "64G"
    slurm.setup = ["module load apptainer", "export TMPDIR=/scratch/tmp"]
    slurm.extra = ["--constraint=a100"]
    slurm.grace = 300
    #expect(spec.slurm == slurm)

    var container = JobSpec.Container()
    container.runtime = .apptainer
    container.image = "/images/ollama.sif"
    container.flags = ["--nv", "--containall"]
    container.binds = ["/scratch:/scratch"]
    #expect(spec.container == container)
  }

  @Test("keys left out get the documented defaults")
  func defaults() throws {
    let spec = try SpecParser.parse("""
      name: demo
      model: gemma:7b
      prompts: prompts.jsonl
      container:
        image: ollama.sif
      """, file: "demo.yaml")

    #expect(spec.repeats == 1)
    #expect(spec.output == "./runs")
    #expect(spec.executor == nil)
    #expect(spec.engine.kind == .ollama)
    #expect(spec.engine.command == nil)
    #expect(spec.engine.parallel == 4)
    #expect(spec.engine.modelsDir == nil)
    #expect(spec.engine.env.isEmpty)
    #expect(spec.engine.readyTimeout == 600)
    #expect(spec.variants.isEmpty)
    #expect(spec.sweep.isEmpty)
    #expect(spec.slurm.shards == 1)
    #expect(spec.slurm.gpusPerNode == 1)
    #expect(spec.slurm.time == nil)
    #expect(spec.slurm.grace == 120)
    #expect(spec.slurm.setup.isEmpty)
    #expect(spec.container.runtime == .apptainer)
    #expect(spec.container.image == "ollama.sif")
    #expect(spec.container.flags == ["--nv"])
    #expect(spec.container.binds.isEmpty)
  }

  @Test("a JSON spec reads the same as its YAML twin")
  func jsonSpec() throws {
    let json = """
      {
        "name": "birthday",
        "model": "gemma:7b",
        "prompts": "prompts.jsonl",
        "repeats": 2,
        "engine": {"parallel": 2, "env": {"OLLAMA_KEEP_ALIVE": "-1"}},
        "variants": [
          {"name": "cold", "options": {"temperature": 0.1, "top_k": 3}},
          {"name": "warm", "modelfile": "FROM gemma:7b\\nPARAMETER temperature 0.5\\n"}
        ],
        "sweep": {"top_p": [0.5, 0.9]},
        "slurm": {"time": "30", "shards": 2, "setup": ["module load apptainer"]},
        "container": {"runtime": "apptainer", "image": "ollama.sif", "binds": ["/scratch"]}
      }
      """
    let yaml = """
      name: birthday
      model: gemma:7b
      prompts: prompts.jsonl
      repeats: 2
      engine:
        parallel: 2
        env:
          OLLAMA_KEEP_ALIVE: "-1"
      variants:
        - name: cold
          options: {temperature: 0.1, top_k: 3}
        - name: warm
          modelfile: |
            FROM gemma:7b
            PARAMETER temperature 0.5
      sweep:
        top_p: [0.5, 0.9]
      slurm:
        time: "30"
        shards: 2
        setup: [module load apptainer]
      container:
        runtime: apptainer
        image: ollama.sif
        binds: [/scratch]
      """
    let fromJSON = try SpecParser.parse(json, file: "birthday.json")
    let fromYAML = try SpecParser.parse(yaml, file: "birthday.yaml")
    #expect(fromJSON == fromYAML)
    #expect(fromJSON.repeats == 2)
    #expect(fromJSON.variants[0].options == ["temperature": .double(0.1), "top_k": .int(3)])
    #expect(fromJSON.variants[1].modelfile == "FROM gemma:7b\nPARAMETER temperature 0.5\n")
    #expect(fromJSON.slurm.shards == 2)
    #expect(fromJSON.container.binds == ["/scratch"])
  }

  @Test("a quoted number is text, not a number, so it is not taken as an option value")
  func quotedNumberIsText() {
    let problems = specProblems(minimalSpec + """
      variants:
        - name: cold
          options:
            temperature: "0.1"
      """)
    let found = problem(at: "variants[0].options.temperature", in: problems)
    #expect(found?.message.contains("must be a number") == true)
  }

  @Test("a single string is accepted where a list of lines is expected")
  func singleStringForList() throws {
    let spec = try SpecParser.parse(minimalSpec + """
      slurm:
        setup: module load apptainer
      """, file: "job.yaml")
    #expect(spec.slurm.setup == ["module load apptainer"])
  }

  @Test("the tutorial's job spec is valid and keeps its four Modelfile variants")
  func tutorialSpecIsValid() throws {
    let spec = try SpecParser.parse(tutorialSpec, file: "tutorial.yaml")
    #expect(spec.name == "tutorial")
    #expect(spec.repeats == 3)
    #expect(spec.variants.map(\.name) == ["default", "low-temp", "high-temp", "top-k-3", "top-k-200"])
    #expect(spec.variants[0] == VariantSpec(name: "default"))
    #expect(spec.variants[3].modelfile == "FROM gemma:7b\nPARAMETER temperature 0.5\nPARAMETER top_k 3\n")
    #expect(spec.slurm.time == "00:30:00")
    #expect(spec.slurm.setup == ["module load apptainer"])
  }

  @Test("a resolved spec written before newer keys existed still reads, with their defaults")
  func olderResolvedSpecReadsWithDefaults() throws {
    var spec = try SpecParser.parse(Self.fullSpec, file: "birthday.yaml")
    let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(spec)) as! [String: Any]
    // What an earlier caravan wrote into spec.resolved.json: none of the keys added since.
    var engine = encoded["engine"] as! [String: Any]
    for key in ["request_timeout", "servers", "max_restarts", "telemetry_interval"] { #expect(engine.removeValue(forKey: key) != nil, "\(key)") }
    var slurm = encoded["slurm"] as! [String: Any]
    #expect(slurm.removeValue(forKey: "max_requeues") != nil)
    var older = encoded
    older["engine"] = engine
    older["slurm"] = slurm
    let decoded = try JSONDecoder().decode(JobSpec.self, from: JSONSerialization.data(withJSONObject: older))
    spec.engine.requestTimeout = JobSpec.Engine().requestTimeout
    spec.engine.servers = JobSpec.Engine().servers
    spec.engine.maxRestarts = JobSpec.Engine().maxRestarts
    spec.engine.telemetryInterval = JobSpec.Engine().telemetryInterval
    spec.slurm.maxRequeues = JobSpec.Slurm().maxRequeues
    #expect(decoded == spec)
    #expect(decoded.engine.readyTimeout == 900 && decoded.slurm.grace == 300, "keys that were there keep their values")
  }
}

/// jobs/tutorial.yaml, as shipped.
let tutorialSpec = """
  name: tutorial
  model: gemma:7b
  prompts: tutorial-prompts.jsonl
  repeats: 3
  engine:
    kind: ollama
    parallel: 4
    models_dir: /scratch/ollama-models      # the shared model store (edit for your site)
  variants:
    - name: default                          # no options: the model's own defaults
    - name: low-temp
      modelfile: |
        FROM gemma:7b
        PARAMETER temperature 0.1
    - name: high-temp
      modelfile: |
        FROM gemma:7b
        PARAMETER temperature 1.0
    - name: top-k-3
      modelfile: |
        FROM gemma:7b
        PARAMETER temperature 0.5
        PARAMETER top_k 3
    - name: top-k-200
      modelfile: |
        FROM gemma:7b
        PARAMETER temperature 0.5
        PARAMETER top_k 200
  slurm:
    time: "00:30:00"
    gpus_per_node: 1
    setup:
      - module load apptainer
  container:
    runtime: apptainer
    image: ollama.sif

  """
