import CaravanOllama
import CaravanTestSupport
import Foundation
import Testing

@Suite struct ReadinessTests {
  @Test func readyOnceTheServerAnswers() async throws {
    let sim = try SimulatorProcess()
    // No timing bound here: on a loaded machine the wait may be slow, and that is not a failure.
    try await Readiness(client: OllamaClient(baseURL: sim.url), serverPID: sim.pid, logPath: nil, timeout: .seconds(60)).wait()
    #expect(await OllamaClient(baseURL: sim.url).isRunning())
  }

  @Test func failsFastWithTheLogTailWhenTheServerExits() async throws {
    let dir = try TestPaths.temporaryDirectory("ready")
    let log = dir.appendingPathComponent("server.log")
    try "starting\nError: could not create directory /home/x/.ollama: read-only file system\n".write(to: log, atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", "exit 1"]
    try process.run()
    process.waitUntilExit()
    let port = try freePort()
    do {
      try await Readiness(client: OllamaClient(baseURL: "http://127.0.0.1:\(port)"), serverPID: process.processIdentifier, logPath: log.path, timeout: .seconds(60)).wait()
      Issue.record("wait() returned although the server had exited")
    } catch let error as ReadinessError {
      // It gave up because the process was gone, not because the 60 s ran out.
      #expect(error.description.contains("exited before it answered"))
      #expect(!error.description.contains("did not answer within"))
      #expect(error.description.contains("read-only file system"))
    }
  }

  @Test func timesOutWhenNothingAnswers() async throws {
    let port = try freePort()
    await #expect(throws: ReadinessError.self) {
      try await Readiness(client: OllamaClient(baseURL: "http://127.0.0.1:\(port)"), serverPID: nil, logPath: nil, timeout: .milliseconds(500)).wait()
    }
  }
}
