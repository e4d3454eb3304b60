import Foundation
@testable import CaravanCore
import Testing

/// What a user sees when a spec is wrong: every problem at once, each with file, line and key path.
@Suite("Spec validation")
struct SpecValidationTests {
  @Test("a misspelt option names its line and suggests the real option")
  func misspeltOption() throws {
    let text = minimalSpec + """
      variants:
        - name: cold
          options:
            top_k: 3
            temprature: 0.1
      """
    let error = try #require(specError(text, file: "birthday.yaml"))
    let found = try #require(problem(at: "variants[0].options.temprature", in: error.problems))
    #expect(found.file == "birthday.yaml")
    #expect(found.line == line(of: "temprature", in: text))
    #expect(found.message.contains("did you mean 'temperature'?"))
    #expect(error.description.contains("birthday.yaml:\(found.line ?? -1): variants[0].options.temprature: "))
  }

  @Test("a line break in a value that becomes one line of the job script is refused by key")
  func lineBreaksInScriptValues() throws {
    let text = """
      name: demo
      model: gemma:7b
      prompts: prompts.jsonl
      output: "runs\\n$(touch CANARY)"
      slurm:
        partition: "debug\\r\\ntouch CANARY"
        extra: ["--comment=a\\r\\ntouch CANARY"]
      container:
        image: x.sif
        binds: ["/data\\u2028x"]
      """
    let problems = specProblems(text)
    for key in ["output", "slurm.partition", "slurm.extra[0]", "container.binds[0]"] {
      let found = try #require(problem(at: key, in: problems), "\(key): \(problems)")
      #expect(found.line != nil)
    }
    #expect(!problems.contains { $0.keyPath == "container.image" })
  }

  @Test("a secret written into the spec is refused where it would be copied into the run; one read at run time is not")
  func secretsInTheSpec() throws {
    let text = minimalSpec + """
      engine:
        env:
          HF_TOKEN: hf_abc
          OPENAI_API_KEY: sk-abc
          OLLAMA_KEEP_ALIVE: "-1"
          OLLAMA_FLASH_ATTENTION: "1"
      slurm:
        setup:
          - export HUGGING_FACE_HUB_TOKEN=hf_literal
          - DB_PASSWORD='pw'
          - export HF_TOKEN=$(cat ~/.hf_token)
          - export HF_HOME="$TMPDIR/hf"
          - module load cuda
      """
    let problems = specProblems(text)
    for key in ["engine.env.HF_TOKEN", "engine.env.OPENAI_API_KEY", "slurm.setup[0]", "slurm.setup[1]"] {
      let found = try #require(problem(at: key, in: problems), "\(key): \(problems)")
      #expect(found.message.contains("export"), "\(found.message)")
      #expect(!found.message.contains("hf_abc") && !found.message.contains("hf_literal") && !found.message.contains("'pw'"), "the message repeats the secret: \(found.message)")
    }
    #expect(problems.count == 4, "\(problems)")
    #expect(SpecValidator.looksSecret("AWS_SECRET_ACCESS_KEY") && SpecValidator.looksSecret("github_token"))
    #expect(!SpecValidator.looksSecret("OLLAMA_KEEP_ALIVE") && !SpecValidator.looksSecret("TOKENIZERS_PARALLELISM") && !SpecValidator.looksSecret("KEYBOARD"))
  }

  @Test("share_with_group is read as true or false and kept in the resolved spec")
  func shareWithGroup() throws {
    #expect(try SpecParser.parse(minimalSpec + "share_with_group: true\n", file: "job.yaml").shareWithGroup)
    #expect(try !SpecParser.parse(minimalSpec, file: "job.yaml").shareWithGroup)
    let wrong = try #require(problem(at: "share_with_group", in: specProblems(minimalSpec + "share_with_group: group\n")))
    #expect(wrong.message.contains("expected true or false"))
    var spec = try SpecParser.parse(minimalSpec, file: "job.yaml")
    spec.shareWithGroup = true
    let decoded = try JSONDecoder().decode(JobSpec.self, from: JSONEncoder().encode(spec))
    #expect(decoded.shareWithGroup)
    #expect(RunPermissions(decoded) == RunPermissions(shareWithGroup: true))
    #expect(RunPermissions().file == 0o600 && RunPermissions(shareWithGroup: true).folder == 0o2750)
  }

  @Test("an unknown top-level key suggests the one the user meant, and the missing key is named")
  func misspeltTopLevelKey() throws {
    let text = """
      name: demo
      modle: gemma:7b
      prompts: prompts.jsonl
      """
    let problems = specProblems(text)
    let typo = try #require(problem(at: "modle", in: problems))
    #expect(typo.line == 2)
    #expect(typo.message.contains("did you mean 'model'?"))
    let missing = try #require(problem(at: "model", in: problems))
    #expect(missing.message.contains("required key 'model' is missing"))
  }

  @Test("an unknown key with no near match lists the keys allowed there")
  func unknownKeyListsAllowed() throws {
    let problems = specProblems(minimalSpec + """
      slurm:
        nodelist: n1
      """)
    let found = try #require(problem(at: "slurm.nodelist", in: problems))
    #expect(found.line == 7)
    #expect(found.message.contains("partition"))
    #expect(found.message.contains("gpus_per_node"))
  }

  @Test("an option Ollama removed is rejected, not silently ignored")
  func removedOption() throws {
    let text = minimalSpec + """
      variants:
        - name: stable
          options:
            mirostat: 2
      """
    let found = try #require(problem(at: "variants[0].options.mirostat", in: specProblems(text)))
    #expect(found.line == line(of: "mirostat", in: text))
    #expect(found.message.contains("removed"))
  }

  @Test("option values outside Ollama's ranges are rejected, each on its own line")
  func outOfRangeOptions() throws {
    let text = minimalSpec + """
      variants:
        - name: odd
          options:
            temperature: -0.5
            top_k: -1
            top_p: 1.5
      """
    let problems = specProblems(text)
    #expect(problems.count == 3)
    let temperature = try #require(problem(at: "variants[0].options.temperature", in: problems))
    #expect(temperature.line == line(of: "temperature: -0.5", in: text))
    #expect(temperature.message.contains("-0.5"))
    let topK = try #require(problem(at: "variants[0].options.top_k", in: problems))
    #expect(topK.line == line(of: "top_k: -1", in: text))
    let topP = try #require(problem(at: "variants[0].options.top_p", in: problems))
    #expect(topP.line == line(of: "top_p: 1.5", in: text))
    #expect(topP.message.contains("1.5"))
    #expect(topP.message.contains("between 0"))
  }

  @Test("options at the edges of their ranges are accepted")
  func optionsAtRangeEdges() throws {
    let spec = try SpecParser.parse(minimalSpec + """
      variants:
        - name: edges
          options: {temperature: 0, top_k: 0, top_p: 1, seed: -1, num_predict: -2, stop: [a, b], use_mmap: false}
      """, file: "job.yaml")
    #expect(spec.variants[0].options.canonical == [
      "temperature": .int(0), "top_k": .int(0), "top_p": .int(1), "seed": .int(-1), "num_predict": .int(-2),
      "stop": .array([.string("a"), .string("b")]), "use_mmap": .bool(false),
    ])
  }

  @Test("a spec with no name, model or prompts names all three")
  func missingRequiredKeys() {
    let problems = specProblems("repeats: 2\n")
    for key in ["name", "model", "prompts"] {
      let found = problems.first { $0.keyPath == key }
      #expect(found?.message.contains("required key '\(key)' is missing") == true, "\(key) is not reported as missing")
    }
  }

  @Test("an empty spec is rejected at line 1")
  func emptySpec() throws {
    let problems = specProblems("# nothing yet\n")
    let only = try #require(problems.first)
    #expect(problems.count == 1)
    #expect(only.line == 1)
  }

  @Test("a job name with a space is rejected at its line")
  func nameWithSpace() throws {
    let text = """
      name: my job
      model: gemma:7b
      prompts: prompts.jsonl
      container: {runtime: none}
      """
    let found = try #require(problem(at: "name", in: specProblems(text)))
    #expect(found.line == 1)
    #expect(found.message.contains("'my job'"))
  }

  @Test("a malformed Slurm time is rejected at its line", arguments: ["1:2:3:4", "ten minutes", "0", "1-", "infinite-ish"])
  func badSlurmTime(time: String) throws {
    let text = minimalSpec + """
      slurm:
        partition: gpu
        time: "\(time)"
      """
    let found = try #require(problem(at: "slurm.time", in: specProblems(text)))
    #expect(found.line == line(of: "  time:", in: text))
    #expect(found.message.contains("HH:MM:SS"))
  }

  @Test("a malformed memory size is rejected at its line")
  func badMemory() throws {
    let text = minimalSpec + """
      slurm:
        mem: 64 GB
      """
    let found = try #require(problem(at: "slurm.mem", in: specProblems(text)))
    #expect(found.line == 7)
  }

  @Test("runtime apptainer without an image asks for one")
  func apptainerWithoutImage() throws {
    let text = """
      name: demo
      model: gemma:7b
      prompts: prompts.jsonl
      container:
        runtime: apptainer
        binds: [/scratch]
      """
    let found = try #require(problem(at: "container.image", in: specProblems(text)))
    #expect(found.message.contains(".sif"))
    #expect(found.message.contains("runtime: none"))
  }

  @Test("runtime apptainer without an image points at the container section it comes from")
  func apptainerWithoutImageHasLine() throws {
    let text = """
      name: demo
      model: gemma:7b
      prompts: prompts.jsonl
      container:
        runtime: apptainer
        binds: [/scratch]
      """
    let found = try #require(problem(at: "container.image", in: specProblems(text)))
    let line = try #require(found.line, "the problem has no line: \(found)")
    #expect((4...6).contains(line))
  }

  @Test("a variant name used twice is rejected at the second use")
  func duplicateVariantNames() throws {
    let text = minimalSpec + """
      variants:
        - name: cold
          options: {temperature: 0.1}
        - name: cold
          options: {temperature: 0.2}
      """
    let found = try #require(problem(at: "variants[1].name", in: specProblems(text)))
    #expect(found.line == 9)
    #expect(found.message.contains("used twice"))
  }

  @Test("a sweep point named like a listed variant is rejected")
  func sweepNameClash() throws {
    let text = minimalSpec + """
      variants:
        - name: temperature=0.5
          options: {temperature: 0.5}
      sweep:
        temperature: [0.5, 0.9]
      """
    let found = try #require(problem(at: "sweep.temperature", in: specProblems(text)))
    #expect(found.line == line(of: "  temperature: [0.5", in: text))
  }

  @Test("a sweep value out of range names its position in the list")
  func sweepValueOutOfRange() throws {
    let text = minimalSpec + """
      sweep:
        top_p: [0.5, 1.5]
      """
    let found = try #require(problem(at: "sweep.top_p[1]", in: specProblems(text)))
    #expect(found.line == 7)
  }

  @Test("a Modelfile with an unknown instruction is reported at that line of the spec")
  func modelfileUnknownInstruction() throws {
    let text = minimalSpec + """
      variants:
        - name: low-temp
          modelfile: |
            FROM gemma:7b
            PARAMETER temperature 0.1
            SYSTME You are terse.
      """
    let found = try #require(problem(at: "variants[0].modelfile", in: specProblems(text)))
    #expect(found.line == line(of: "SYSTME", in: text))
    #expect(found.message.contains("did you mean SYSTEM?"))
  }

  @Test("a Modelfile with a misspelt PARAMETER is reported at that line of the spec")
  func modelfileMisspeltParameter() throws {
    let text = minimalSpec + """
      variants:
        - name: plain
          options: {}
        - name: low-temp
          modelfile: |
            # the tutorial's first Modelfile
            FROM gemma:7b

            PARAMETER temprature 0.1
      """
    let found = try #require(problem(at: "variants[1].modelfile", in: specProblems(text)))
    #expect(found.line == line(of: "temprature", in: text))
    #expect(found.message.contains("did you mean 'temperature'?"))
  }

  @Test("a Modelfile without FROM is rejected")
  func modelfileWithoutFrom() throws {
    let text = minimalSpec + """
      variants:
        - name: low-temp
          modelfile: |
            PARAMETER temperature 0.1
      """
    let found = try #require(problem(at: "variants[0].modelfile", in: specProblems(text)))
    #expect(found.message.contains("FROM"))
    #expect(found.line != nil)
  }

  @Test("a variant with both options and a Modelfile is rejected at that variant")
  func optionsAndModelfile() throws {
    let text = minimalSpec + """
      variants:
        - name: both
          options: {temperature: 0.1}
          modelfile: |
            FROM gemma:7b
      """
    let found = try #require(problem(at: "variants[0]", in: specProblems(text)))
    #expect(found.message.contains("not both"))
    let reported = try #require(found.line, "the problem should name the variant's line: \(found)")
    #expect((7...9).contains(reported))
  }

  @Test("a bad environment variable name is reported at its line")
  func badEnvName() throws {
    let text = minimalSpec + """
      engine:
        env:
          OLLAMA-HOST: 127.0.0.1
      """
    let found = try #require(problem(at: "engine.env.OLLAMA-HOST", in: specProblems(text)))
    #expect(found.line == line(of: "OLLAMA-HOST", in: text), "the problem should name the line: \(found)")
  }

  @Test("an extra sbatch line that is not an option is reported at its line")
  func badExtraDirective() throws {
    let text = minimalSpec + """
      slurm:
        extra:
          - --constraint=a100
          - "#SBATCH --exclusive"
      """
    let found = try #require(problem(at: "slurm.extra[1]", in: specProblems(text)))
    #expect(found.message.contains("without '#SBATCH'"))
    #expect(found.line == line(of: "#SBATCH", in: text), "the problem should name the line: \(found)")
  }

  @Test("invalid YAML is reported with a line number")
  func invalidYAML() throws {
    let text = """
      name: demo
      model: gemma:7b
      prompts: [unclosed
      repeats: 2
      """
    let error = try #require(specError(text))
    let only = try #require(error.problems.first)
    #expect(error.problems.count == 1)
    #expect(only.message.contains("not valid YAML"))
    let reported = try #require(only.line)
    #expect((3...5).contains(reported))
    #expect(error.description.contains("job.yaml:\(reported): "))
  }

  @Test("a duplicated key inside a section is reported at its second occurrence")
  func nestedDuplicateKey() throws {
    let text = minimalSpec + "slurm:\n  time: \"10\"\n  shards: 2\n  time: \"20\"\n"
    let only = try #require(specProblems(text).first)
    #expect(only.line == 9)
    #expect(only.message.contains("'time'"))
  }

  @Test("a broken JSON spec is reported with a line number")
  func invalidJSON() throws {
    let text = "{\n  \"name\": \"demo\",\n  \"model\": \"gemma:7b\"\n  \"prompts\": \"p.jsonl\"\n}\n"
    let only = try #require(specProblems(text, file: "job.json").first)
    let reported = try #require(only.line)
    #expect((3...4).contains(reported))
    #expect(only.file == "job.json")
  }

  @Test("a tab-indented spec is reported at the tab's line")
  func tabIndentation() throws {
    let text = "name: demo\nmodel: gemma:7b\nslurm:\n\tshards: 2\n"
    let only = try #require(specProblems(text).first)
    #expect(only.line == 4)
  }

  @Test("a wrong value type names what was expected")
  func wrongTypes() throws {
    let text = minimalSpec + """
      repeats: three
      slurm:
        shards: [1, 2]
      executor: cloud
      """
    let problems = specProblems(text)
    #expect(problem(at: "repeats", in: problems)?.message.contains("whole number") == true)
    #expect(problem(at: "repeats", in: problems)?.line == 6)
    #expect(problem(at: "slurm.shards", in: problems)?.line == 8)
    #expect(problem(at: "executor", in: problems)?.message.contains("slurm, local") == true)
    #expect(problem(at: "executor", in: problems)?.line == 9)
  }

  @Test("numbers that make no sense are rejected", arguments: [
    ("repeats: 0", "repeats"), ("engine:\n  parallel: 0", "engine.parallel"), ("engine:\n  request_timeout: 0", "engine.request_timeout"),
    ("engine:\n  request_timeout: 99999999999", "engine.request_timeout"),
    ("slurm:\n  shards: 0", "slurm.shards"), ("slurm:\n  grace: 5", "slurm.grace"),
    ("slurm:\n  cpus_per_task: 0", "slurm.cpus_per_task"), ("slurm:\n  gpus_per_node: -1", "slurm.gpus_per_node"),
  ])
  func nonsensicalNumbers(line text: String, keyPath: String) throws {
    let found = try #require(problem(at: keyPath, in: specProblems(minimalSpec + text + "\n")))
    #expect(found.line == minimalSpec.split(separator: "\n").count + text.split(separator: "\n").count)
  }

  @Test("every problem in the options is reported in one go")
  func allOptionProblemsAtOnce() throws {
    let text = """
      name: demo
      modle: gemma:7b
      prompts: prompts.jsonl
      container: {runtime: none}
      variants:
        - name: cold
          options:
            temprature: 0.1
            mirostat: 2
        - name: odd
          options:
            temperature: -0.5
            top_k: -1
            top_p: 1.5
      """
    let error = try #require(specError(text, file: "sweep.yaml"))
    #expect(Set(error.problems.map(\.keyPath)) == [
      "modle", "model", "variants[0].options.temprature", "variants[0].options.mirostat",
      "variants[1].options.temperature", "variants[1].options.top_k", "variants[1].options.top_p",
    ])
    for (marker, keyPath) in [("modle", "modle"), ("temprature", "variants[0].options.temprature"), ("mirostat", "variants[0].options.mirostat"),
                              ("temperature: -0.5", "variants[1].options.temperature"), ("top_k", "variants[1].options.top_k"), ("top_p", "variants[1].options.top_p")] {
      let number = try #require(line(of: marker, in: text))
      #expect(error.description.contains("sweep.yaml:\(number): \(keyPath): "), "missing \(keyPath) at line \(number) in:\n\(error)")
    }
  }

  @Test("every whole-spec problem is reported in one go")
  func allSpecProblemsAtOnce() throws {
    let text = """
      name: my job
      model: gemma:7b
      prompts: prompts.jsonl
      slurm:
        time: soon
      container:
        runtime: apptainer
      variants:
        - name: cold
          options: {temperature: 0.1}
        - name: cold
          options: {temperature: 0.2}
      """
    let error = try #require(specError(text, file: "job.yaml"))
    #expect(Set(error.problems.map(\.keyPath)) == ["name", "slurm.time", "container.image", "variants[1].name"])
    #expect(error.description.contains("job.yaml:1: name: "))
    #expect(error.description.contains("job.yaml:5: slurm.time: "))
    #expect(error.description.contains("job.yaml:11: variants[1].name: "))
  }

  @Test("a misspelt key does not hide the spec's other problems")
  func structuralAndSemanticProblemsTogether() throws {
    let text = """
      name: my job
      model: gemma:7b
      prompts: prompts.jsonl
      container: {runtime: none}
      slurm:
        time: soon
      variants:
        - name: cold
          options: {temprature: 0.1}
      """
    let problems = specProblems(text)
    #expect(Set(problems.map(\.keyPath)) == ["name", "slurm.time", "variants[0].options.temprature"],
            "the user should see all three problems in one run, got:\n\(problems.map(\.description).joined(separator: "\n"))")
  }

  @Test("a problem's description is file:line: keypath: message")
  func problemDescription() {
    #expect(Problem(file: "job.yaml", line: 12, keyPath: "slurm.time", message: "bad").description == "job.yaml:12: slurm.time: bad")
    #expect(Problem(file: "job.yaml", line: nil, keyPath: "model", message: "missing").description == "job.yaml: model: missing")
    #expect(Problem(file: "p.jsonl", line: 3, message: "not JSON").description == "p.jsonl:3: not JSON")
    let error = InputError([Problem(file: "a", line: 1, message: "x"), Problem(file: "a", line: 2, message: "y")])
    #expect(error.description == "2 problems found; nothing was submitted:\n  a:1: x\n  a:2: y")
    #expect(InputError([Problem(file: "a", line: 1, message: "x")]).description.hasPrefix("1 problem found"))
  }

  @Test("a duplicated key is reported with its line, without dumping the whole spec")
  func duplicateKey() throws {
    let text = minimalSpec + "repeats: 2\nrepeats: 3\n"
    let problems = specProblems(text)
    let only = try #require(problems.first)
    #expect(problems.count == 1)
    #expect(only.description.contains("'repeats'"))
    let reported = try #require(only.line, "the duplicate key's line is not reported: \(only)")
    #expect((6...7).contains(reported))
    #expect(!only.message.contains("prompts.jsonl"), "the message repeats the whole spec: \(only.message)")
  }

  @Test("two Modelfile variants never create the same Ollama model")
  func modelfileVariantsCreateDistinctModels() throws {
    let text = minimalSpec + """
      variants:
        - name: Cold
          modelfile: |
            FROM gemma:7b
            PARAMETER temperature 0.1
        - name: cold
          modelfile: |
            FROM gemma:7b
            PARAMETER temperature 0.2
      """
    // Ollama compares model names without case, so rejecting the pair is as good as naming them apart.
    guard let spec = try? SpecParser.parse(text, file: "job.yaml") else { return }
    let models = Planner.variants(for: spec).map(\.model)
    #expect(Set(models.map { $0.lowercased() }).count == models.count,
            "variants Cold and cold both create \(models[0]); the second /api/create replaces the first")
  }

  @Test("a Modelfile variant's name always makes a valid Ollama model name")
  func modelfileVariantModelNameIsValid() throws {
    let text = minimalSpec + """
      variants:
        - name: temperature=0.1,top_k=3
          modelfile: |
            FROM gemma:7b
            PARAMETER temperature 0.1
            PARAMETER top_k 3
      """
    // Either the spec is rejected up front, or the created name uses only what Ollama accepts.
    guard let spec = try? SpecParser.parse(text, file: "job.yaml") else { return }
    let model = try #require(Planner.variants(for: spec).first?.model)
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:")
    #expect(model.allSatisfy(allowed.contains), "Ollama's /api/create rejects the model name '\(model)'")
  }
}
