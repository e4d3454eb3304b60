import CaravanProcess
import CaravanTestSupport
import Foundation
import Testing

/// The test helper that runs `ollama-sim`: every simulator test leans on it to start, to stop,
/// and to leave nothing running, without holding one of the threads that run every test's tasks.
@Suite struct SimulatorProcessTests {
  @Test func stopEndsTheSimulatorAndReapsIt() async throws {
    let sim = try await SimulatorProcess.start()
    #expect(processIsAlive(sim.pid))
    let status = await sim.stop()
    #expect(!processIsAlive(sim.pid), "ollama-sim \(sim.pid) still runs after stop()")
    // Reaped, so the pid is gone, not a zombie; stopping again changes nothing.
    #expect(!Self.exists(sim.pid))
    #expect(await sim.stop() == status)
  }

  @Test func aDroppedSimulatorIsStoppedAndReaped() async throws {
    var sim: SimulatorProcess? = try await SimulatorProcess.start()
    let pid = try #require(sim?.pid)
    sim = nil
    let deadline = ContinuousClock.now + .seconds(30)
    while Self.exists(pid), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
    #expect(!Self.exists(pid), "ollama-sim \(pid) still runs, or was never reaped, 30 s after it was dropped")
  }

  /// Whether `pid` is a process at all, a zombie included.
  static func exists(_ pid: pid_t) -> Bool { FileManager.default.fileExists(atPath: "/proc/\(pid)") }

  @Test func aSimulatorThatExitsAtStartIsReportedWithItsStatus() async throws {
    let error = await #expect(throws: TestSupportError.self) { try await SimulatorProcess.start(arguments: ["--burst-503", "x"]) }
    #expect(error?.description.contains("did not become ready") == true, "\(error?.description ?? "")")
    #expect(error?.description.contains("(exit status 64)") == true, "\(error?.description ?? "")")
  }
}
