import CaravanStorage
import ArgumentParser
import CaravanCore
import CaravanWorker
import Dispatch
import Foundation
import Logging

extension Caravan {
  /// `caravan worker`: runs one shard inside the job (the job script calls it).
  struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run one shard inside the job: start its servers, send its requests, record the results.",
      discussion: """
        Starts the run's server.sh once per server (one per GPU with engine.servers: per-gpu), waits until \
        each answers, restarts one that dies (engine.max_restarts), and stops them at the end. With --url it \
        uses a server that is already running instead. Resumes where an earlier attempt stopped. On SIGTERM it \
        stops sending, lets in-flight requests finish, and exits 143; when the time limit (not a cancel) \
        stopped it, it requeues its own job (slurm.max_requeues).
        """
    )

    @Option(help: "The run directory.")
    var runDir: String

    @Option(help: "Shard index (the Slurm array task id).")
    var shard: Int

    @Option(help: "Use this running server (base URL) instead of starting the run's server.sh.")
    var url: String?

    @Option(help: "Requests in flight per server (default: the spec's engine.parallel).")
    var parallel: Int?

    @Option(help: "File listing the servers' process groups, for the job script to clean up after a killed worker.")
    var pidFile: String?

    func run() async throws {
      var logger = Logger(label: "caravan.worker")
      logger.logLevel = .info
      let run = RunDirectory(path: runDir)
      let spec: JobSpec
      do { spec = try run.spec() } catch { throw fail("\(error)") }

      let stop = StopFlag()
      let signals = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number)
        source.setEventHandler { stop.set() }
        source.resume()
        return source
      }
      defer { signals.forEach { $0.cancel() } }

      let environment = ProcessInfo.processInfo.environment
      let runner = ShardRunner(run: run, shard: shard, spec: spec, environment: environment, externalURL: url, parallel: parallel, pidFile: pidFile, logger: logger)
      let outcome: ShardWorker.Outcome
      do {
        outcome = try await runner.run(stop: stop)
      } catch {
        throw fail("shard \(shard): \(error)")
      }
      logger.info("shard \(shard): wrote \(outcome.written) records (\(outcome.errors) errors), \(outcome.alreadyDone) were already done")
      if outcome.stopped {
        logger.notice("shard \(shard): stopped before the end; a requeued or resubmitted job resumes from here")
        await SelfRequeue(spec: spec.slurm, environment: environment, logger: logger).requeueIfTimeLimit()
        throw ExitCode(143)
      }
    }
  }
}
