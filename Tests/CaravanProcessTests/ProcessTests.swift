import CaravanProcess
import CaravanTestSupport
import Foundation
import Testing

@Suite struct SpawnTests {
  /// A child started in its own session takes its whole group down with it: a grandchild that
  /// ignores nothing is gone once `stopGroup` returns.
  @Test func stopGroupEndsTheChildAndWhatItStarted() async throws {
    let dir = try TestPaths.temporaryDirectory("spawn")
    let pidFile = dir.appendingPathComponent("grandchild.pid").path
    let pid = try Spawn.start(
      ["/bin/bash", "-c", "sleep 300 & echo $! > \(pidFile); wait"], environment: ["PATH": "/usr/bin:/bin"], newSession: true)
    var grandchild: Int32?
    for _ in 0..<200 where grandchild == nil {
      grandchild = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
      if grandchild == nil { try await Task.sleep(for: .milliseconds(25)) }
    }
    let sleeper = try #require(grandchild)
    #expect(processIsAlive(sleeper))
    async let status = Spawn.wait(pid)
    await Spawn.stopGroup(pid, patience: .seconds(5))
    #expect(await status == 128 + SIGTERM)
    for _ in 0..<200 where processIsAlive(sleeper) { try await Task.sleep(for: .milliseconds(25)) }
    #expect(!processIsAlive(sleeper), "the grandchild outlived its group")
  }

  @Test func aMissingProgramIsAProcessErrorNamingIt() {
    #expect(throws: ProcessError.self) { try Spawn.start(["/nonexistent/caravan-test"], environment: [:]) }
  }
}

@Suite struct ProcessRunnerTests {
  @Test func capturesBothStreamsAndTheStatus() async throws {
    let output = try await ProcessRunner().run("bash", ["-c", "echo out; echo err >&2; exit 3"])
    #expect(output.status == 3 && output.stdout == "out\n" && output.stderr == "err\n" && !output.timedOut)
  }

  @Test func aProgramPastItsTimeoutIsKilledAndSaysSo() async throws {
    let output = try await ProcessRunner().run("sleep", ["300"], timeout: .milliseconds(200))
    #expect(output.timedOut)
    #expect(output.status != 0)
  }

  @Test func pathLookupFindsExecutablesOnlyOnTheGivenPath() throws {
    let dir = try TestPaths.temporaryDirectory("path")
    let tool = dir.appendingPathComponent("caravan-tool").path
    try "#!/bin/sh\n".write(toFile: tool, atomically: true, encoding: .utf8)
    #expect(throws: ProcessError.self) { try ProcessRunner.path(of: "caravan-tool", searchPath: "/usr/bin") }
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: tool)
    #expect(try ProcessRunner.path(of: "caravan-tool", searchPath: "/usr/bin:" + dir.path) == tool)
  }
}

@Suite struct FreePortTests {
  /// The port is free: something else can listen on it right away.
  @Test func theChosenPortCanBeBound() throws {
    let port = try freeLoopbackPort()
    #expect((1024...65535).contains(port))
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    #expect(bound == 0)
  }
}
