import CaravanCore
import CaravanProcess
import CaravanTestSupport
import Foundation
import Testing

/// `task: embed` end to end on the simulator's `/api/embed`: 1,000 inputs in 2 shards, the run
/// killed with SIGKILL part-way and resumed, then `numpy.load` of embeddings.npy checked row by
/// row against a direct request for each input.
@Suite(.enabled(if: RealInference.available, "needs the venv's numpy: scripts/inference-venv.sh"))
struct EmbeddingTests {
  @Test func aKilledEmbeddingRunResumesAndEveryRowIsItsInputsVector() async throws {
    let lifecycle = LifecycleTests()
    let dir = try TestPaths.temporaryDirectory("embed")
    let sim = try TestPaths.binary("ollama-sim")
    let prompts = dir.appendingPathComponent("p.jsonl")
    try (0..<1000).map { #"{"id": "d\#($0)", "prompt": "document \#($0): notes on topic \#($0 % 37)"}"# }.joined(separator: "\n")
      .write(to: prompts, atomically: true, encoding: .utf8)
    try """
      name: embed
      model: nomic-embed-text
      task: embed
      prompts: p.jsonl
      executor: local
      output: '\(dir.path)/runs'
      engine:
        kind: sim
        parallel: 2
        embed_batch: 16
        telemetry_interval: 0
        command: exec '\(sim)' --models nomic-embed-text --prompt-token-us 10000 --slots 2
      slurm: {shards: 2}
      container: {runtime: none}
      """.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    let tmp = dir.appendingPathComponent("tmp")
    try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    let job = LifecycleTests.Job(dir: dir, spec: dir.appendingPathComponent("job.yaml"), items: 1000, tmp: tmp)

    let submit = try lifecycle.startSubmit(job)
    try await lifecycle.waitUntil("some vectors") { (try? lifecycle.recorded(lifecycle.runDir(job))) ?? 0 >= 32 }
    kill(-submit, SIGKILL)
    _ = await Spawn.wait(submit)
    try await lifecycle.waitUntil("every process of the run to end", timeout: 15) { lifecycle.processes(job).isEmpty }
    let run = try lifecycle.runDir(job)
    let before = lifecycle.recorded(run)
    #expect(before < 1000, "killed part-way: \(before) records")

    let resume = try await runCommand(try TestPaths.binary("caravan"), ["resume", run], environment: ["TMPDIR": tmp.path])
    #expect(resume.status == 0, "resume: \(resume.stdout)\(resume.stderr)")
    #expect(lifecycle.recorded(run) == 1000, "each input recorded once")

    // A fresh simulator answers each input directly; numpy compares.
    let port = try freeLoopbackPort()
    let server = try Spawn.start([sim, "--host", "127.0.0.1:\(port)", "--models", "nomic-embed-text"], environment: ProcessInfo.processInfo.environment, newSession: true)
    defer { kill(-server, SIGKILL); kill(server, SIGKILL) }
    let check = """
      import json, sys, time, urllib.request
      import numpy as np
      run, prompts, port = sys.argv[1], sys.argv[2], sys.argv[3]
      matrix = np.load(run + "/embeddings.npy")
      ids = [json.loads(line) for line in open(run + "/embeddings.ids.jsonl")]
      texts = [json.loads(line)["prompt"] for line in open(prompts)]
      body = json.dumps({"model": "nomic-embed-text", "input": texts}).encode()
      for _ in range(100):
          try:
              answer = json.load(urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s/api/embed" % port, body, {"Content-Type": "application/json"})))
              break
          except OSError:
              time.sleep(0.1)
      direct = np.array(answer["embeddings"], dtype=np.float32)
      assert matrix.dtype == np.float32, matrix.dtype
      assert matrix.shape == direct.shape == (1000, direct.shape[1]), (matrix.shape, direct.shape)
      assert [row["row"] for row in ids] == list(range(1000)) and [row["id"] for row in ids] == ["d%d" % i for i in range(1000)]
      assert all(row["status"] == "ok" for row in ids)
      assert np.array_equal(matrix, direct), int((matrix != direct).any(axis=1).sum())
      print("rows", matrix.shape[0], "dimensions", matrix.shape[1])
      """
    let result = try await runCommand(try #require(RealInference.python), ["-c", check, run, prompts.path, String(port)])
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    #expect(result.stdout.contains("rows 1000 dimensions 64"), "\(result.stdout)")
    let report = try String(contentsOfFile: run + "/report.md", encoding: .utf8)
    #expect(report.contains("## Embeddings") && report.contains("| vectors | 1000 |") && report.contains("| dimensions | 64 |"))
  }
}

/// `task: embed` on a real llama.cpp server (`/v1/embeddings`, SmolLM2 with mean pooling).
@Suite(.enabled(if: RealInference.available, "needs the inference venv: scripts/inference-venv.sh"))
struct RealEmbeddingTests {
  @Test func llamaCppEmbeddingsLandInPlanOrderAndMatchADirectRequest() async throws {
    let dir = try TestPaths.temporaryDirectory("embed-llama")
    let model = try await RealInference.smolLM2()
    let prompts = dir.appendingPathComponent("p.jsonl")
    let texts = (0..<24).map { "sentence \($0) about \(["cats", "ships", "rain", "maths"][$0 % 4])" }
    try texts.enumerated().map { #"{"id": "s\#($0.offset)", "prompt": "\#($0.element)"}"# }.joined(separator: "\n")
      .write(to: prompts, atomically: true, encoding: .utf8)
    try """
      name: embed-llama
      model: smol
      task: embed
      prompts: p.jsonl
      executor: local
      engine:
        kind: openai
        parallel: 2
        embed_batch: 5
        ready_timeout: 120
        command: \(try RealInference.serverCommand(model: model, threads: 2)) --embedding
      slurm: {shards: 2}
      container: {runtime: none}
      """.write(to: dir.appendingPathComponent("job.yaml"), atomically: true, encoding: .utf8)
    let submit = try await caravan(["submit", "job.yaml", "--json"], in: dir)
    #expect(submit.status == 0, "\(submit.stdout)\(submit.stderr)")
    let run = try #require(try jsonObject(submit.stdout)["run_dir"] as? String)

    // The same server, asked directly for all the inputs at once.
    let port = try freeLoopbackPort()
    let command = try RealInference.serverCommand(model: model, threads: 2).replacingOccurrences(of: "$PORT", with: String(port)).replacingOccurrences(of: "$PARALLEL", with: "1")
      .replacingOccurrences(of: "\"$MODEL\"", with: "smol")
    let server = try Spawn.start(["/bin/bash", "-c", command + " --embedding"], environment: ProcessInfo.processInfo.environment, newSession: true)
    defer { kill(-server, SIGKILL) }
    let check = """
      import json, sys, time, urllib.request
      import numpy as np
      run, port = sys.argv[1], sys.argv[2]
      texts = json.loads(sys.argv[3])
      matrix = np.load(run + "/embeddings.npy")
      body = json.dumps({"model": "smol", "input": texts, "encoding_format": "float"}).encode()
      for _ in range(600):
          try:
              answer = json.load(urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s/v1/embeddings" % port, body, {"Content-Type": "application/json"})))
              break
          except Exception:
              time.sleep(0.2)
      direct = np.array([row["embedding"] for row in sorted(answer["data"], key=lambda row: row["index"])], dtype=np.float32)
      assert matrix.shape == direct.shape, (matrix.shape, direct.shape)
      cosine = (matrix * direct).sum(axis=1) / np.linalg.norm(matrix, axis=1) / np.linalg.norm(direct, axis=1)
      assert cosine.min() > 0.999, cosine.min()
      print("rows", matrix.shape[0], "dimensions", matrix.shape[1], "min cosine %.6f" % cosine.min())
      """
    let textsJSON = String(decoding: try JSONEncoder().encode(texts), as: UTF8.self)
    let result = try await runCommand(try #require(RealInference.python), ["-c", check, run, String(port), textsJSON])
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    #expect(result.stdout.contains("rows 24 dimensions 576"), "\(result.stdout)")
  }
}
