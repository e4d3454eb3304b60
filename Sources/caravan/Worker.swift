import ArgumentParser
import CaravanOllama
import CaravanWorker
import Dispatch
import Foundation
import Logging

extension Caravan {
  /// `caravan worker`: runs one shard inside the job (the job script calls it).
  struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Send one shard's requests to a running server and record the results (runs inside the job).",
      discussion: "Resumes where an earlier attempt stopped. On SIGTERM it stops sending, lets in-flight requests finish, and exits 143."
    )

    @Option(help: "The run directory.")
    var runDir: String

    @Option(help: "Shard index (the Slurm array task id).")
    var shard: Int

    @Option(help: "Base URL of the server.")
    var url: String

    @Option(help: "Requests in flight (default: the spec's engine.parallel).")
    var parallel: Int?

    func run() async throws {
      var logger = Logger(label: "caravan.worker")
      logger.logLevel = .info
      let run = RunDirectory(path: runDir)
      let spec: Int
      do { spec = try parallel ?? run.spec().engine.parallel } catch { throw fail("\(error)") }
      let environment = ProcessInfo.processInfo.environment
      let node = environment["SLURMD_NODENAME"] ?? ProcessInfo.processInfo.hostName
      let jobID = environment["SLURM_ARRAY_JOB_ID"].map { "\($0)_\(environment["SLURM_ARRAY_TASK_ID"] ?? "0")" } ?? environment["SLURM_JOB_ID"]

      let stop = StopFlag()
      let signals = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number)
        source.setEventHandler { stop.set() }
        source.resume()
        return source
      }
      defer { signals.forEach { $0.cancel() } }

      let worker = ShardWorker(run: run, shard: shard, client: OllamaClient(baseURL: url), parallel: spec, node: node, jobID: jobID, logger: logger)
      let outcome: ShardWorker.Outcome
      do {
        outcome = try await worker.run(stop: stop)
      } catch {
        throw fail("shard \(shard): \(error)")
      }
      logger.info("shard \(shard): wrote \(outcome.written) records (\(outcome.errors) errors), \(outcome.alreadyDone) were already done")
      if outcome.stopped {
        logger.notice("shard \(shard): stopped before the end; a requeued or resubmitted job resumes from here")
        throw ExitCode(143)
      }
    }
  }
}
