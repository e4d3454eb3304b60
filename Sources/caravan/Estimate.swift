import ArgumentParser
import CaravanCore
import CaravanRun
import Foundation

extension Caravan {
  /// `caravan estimate`: how many GPU-hours, how long per shard, and what `slurm.time` to ask for.
  struct EstimateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "estimate",
      abstract: "Predict a spec's GPU-hours, wall time per shard and a slurm.time from past runs.",
      discussion: """
        Learns from the finished runs of the same model and engine under the spec's output folder: \
        the prefill and decode rates, the overhead per request, the requests in flight at once, the \
        servers' start-up, tokens per prompt word and the generated tokens per variant. Prompt lengths \
        come from the prompt file, generation lengths from the past runs, capped by num_predict. With \
        --calibrate N it first runs the spec's first N prompts in one shard (locally or on Slurm, as \
        submit would) and learns from that too. With two or more past runs it also predicts each from \
        the others and prints the error.
        """
    )

    @Argument(help: "The job spec.")
    var spec: String

    @Option(help: "First run the spec's first N prompts in one shard, and learn from that run.")
    var calibrate: Int?

    @Option(help: "Learn only from past runs on GPUs whose name contains this (default: a type in slurm.extra's --gres=gpu:TYPE:N or --constraint=TYPE).")
    var gpu: String?

    @Flag(help: "Print {\"gpu_hours\": ..., \"wall_seconds\": ..., \"time_limit\": ...} and the rest as JSON.")
    var json = false

    func validate() throws {
      if let calibrate, !(1...100_000).contains(calibrate) { throw ValidationError("--calibrate takes 1 to 100000 prompts, not \(calibrate)") }
    }

    func run() async throws {
      let estimator = Estimator(submitter: Submitter(preparer: RunPreparer(caravanPath: Executables.caravan, simulatorPath: Executables.simulator, version: Caravan.version)))
      let result: Estimator.Result
      do {
        result = try await estimator.estimate(specPath: spec, calibrate: calibrate, gpu: gpu) { event in
          if case .note(let note) = event { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        }
      } catch let error as InputError {
        throw failInput(error)
      } catch {
        throw fail("\(error)")
      }
      let p = result.prediction, r = p.rates
      if json {
        let object: [String: Any] = [
          "gpu_hours": p.gpuHours, "wall_seconds": p.wallSeconds, "time_limit": p.timeLimit, "shard_seconds": p.shardSeconds,
          "items": result.items, "runs": result.runs, "gpu_names": result.gpuNames, "gpu_hint": result.gpuHint ?? NSNull(), "gpu_matched": result.gpuMatched,
          "past_errors": result.pastErrors.map { ["run": $0.run, "predicted_seconds": $0.predicted, "measured_seconds": $0.measured] },
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        return
      }
      print("\(result.items) work items in \(p.shardSeconds.count) shards:")
      print("  wall time per shard: \(RunProgress.duration(p.wallSeconds)) (longest), \(RunProgress.duration(p.shardSeconds.min() ?? 0)) (shortest)")
      print("  GPU-hours: \(String(format: "%.3f", p.gpuHours)) (\(p.gpusPerShard) GPU(s) per shard)")
      print("  slurm.time to ask for: \(p.timeLimit)")
      if let requested = result.requestedSeconds, Double(requested) < p.wallSeconds {
        print("warning: the spec's slurm.time (\(Estimate.slurmTime(requested))) is shorter than the longest shard's estimate")
      }
      print("Assumptions, from \(r.requests) requests of \(result.runs.count) past run(s)\(result.gpuNames.isEmpty ? "" : " on \(result.gpuNames.joined(separator: ", "))"):")
      print(String(format: "  overhead %.3f s per request; prefill %.2f ms and decode %.2f ms per token; %.2f tokens per prompt word", r.overheadSeconds, r.prefillSecondsPerToken * 1000, r.decodeSecondsPerToken * 1000, r.tokensPerWord))
      print(String(format: "  %.1f requests in flight per shard; server start-up %.1f s; %.0f generated tokens per request", r.concurrency, r.startupSeconds, r.generatedTokensMean))
      if let hint = result.gpuHint {
        print(result.gpuMatched ? "  only runs on GPUs named like '\(hint)'" : "  no past run on a GPU named like '\(hint)': every run of the model was used")
      }
      for run in result.runs { print("  learned from \(run)") }
      for error in result.pastErrors {
        let off = error.measured > 0 ? (error.predicted / error.measured - 1) * 100 : 0
        print(String(format: "  past check: %@ predicted %.1f s, measured %.1f s (%+.0f%%)", error.run, error.predicted, error.measured, off))
      }
    }
  }
}
