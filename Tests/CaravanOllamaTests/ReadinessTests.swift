import CaravanOllama
import CaravanProcess
import CaravanTestSupport
import Foundation
import Testing

@Suite struct ReadinessTests {
  @Test func readyOnceTheServerAnswers() async throws {
    let sim = try await SimulatorProcess.start()
    // No timing bound here: on a loaded machine the wait may be slow, and that is not a failure.
    try await Readiness(client: OllamaClient(baseURL: sim.url), serverPID: sim.pid, logPath: nil, timeout: .seconds(60)).wait()
    #expect(await OllamaClient(baseURL: sim.url).isRunning())
  }

  @Test func failsFastWithTheLogTailWhenTheServerExits() async throws {
    let dir = try TestPaths.temporaryDirectory("ready")
    let log = dir.appendingPathComponent("server.log")
    try "starting\nError: could not create directory /home/x/.ollama: read-only file system\n".write(to: log, atomically: true, encoding: .utf8)
    // A server that has already exited (and been reaped, off the cooperative pool).
    let server = try Spawn.start(["/bin/sh", "-c", "exit 1"], environment: [:])
    #expect(await Spawn.wait(server) == 1)
    let port = try freePort()
    let readiness = Readiness(client: OllamaClient(baseURL: "http://127.0.0.1:\(port)"), serverPID: server, logPath: log.path, timeout: .seconds(60))
    let error = await #expect(throws: ReadinessError.self, "wait() returned although the server had exited") {
      try await readiness.wait()
    }
    // It gave up because the process was gone, not because the 60 s ran out.
    #expect(error?.description.contains("exited before it answered") == true, "\(error?.description ?? "")")
    #expect(error?.description.contains("did not answer within") == false)
    #expect(error?.description.contains("read-only file system") == true)
  }

  @Test func timesOutWhenNothingAnswers() async throws {
    let port = try freePort()
    await #expect(throws: ReadinessError.self) {
      try await Readiness(client: OllamaClient(baseURL: "http://127.0.0.1:\(port)"), serverPID: nil, logPath: nil, timeout: .milliseconds(500)).wait()
    }
  }
}
