import CaravanProcess
import CaravanTestSupport
import Foundation
import Testing

/// `caravan guard`: a server never outlives the process that started it, even one killed with
/// SIGKILL, and what it forked goes with it.
@Suite struct OrphanGuardTests {
  /// Waits up to `seconds` for `condition`.
  func eventually(_ seconds: Double = 10, _ condition: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
      if condition() { return true }
      try await Task.sleep(for: .milliseconds(50))
    }
    return condition()
  }

  func readPID(_ path: String) async throws -> pid_t {
    var pid: pid_t?
    _ = try await eventually {
      pid = (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
      return pid != nil
    }
    return try #require(pid)
  }

  @Test func aGuardStopsItsServerAndWhatItForkedWhenItsParentIsKilled() async throws {
    let caravan = try TestPaths.binary("caravan")
    let dir = try TestPaths.temporaryDirectory("guard")
    let forked = dir.appendingPathComponent("forked.pid").path
    // The "worker": a shell that starts the guard in a session of its own, as the worker does.
    let server = "sleep 300 & echo $! > '\(forked)'; exec sleep 301"
    let worker = try Spawn.start(
      ["/bin/bash", "-c", "'\(caravan)' guard --parent $$ -- /bin/bash -c \"$0\" & wait", server],
      environment: ["PATH": "/usr/bin:/bin"], newSession: true)
    let runner = try await readPID(forked)
    #expect(processIsAlive(runner))
    let group = try #require(ProcessTable.status(runner)?.group)
    kill(worker, SIGKILL)
    _ = await Spawn.wait(worker)
    #expect(try await eventually { !processIsAlive(runner) }, "the server's forked process outlived the killed worker")
    // Nothing of the guard's group is left, the guard and the server included.
    #expect(try await eventually { ProcessTable.members(ofGroup: group).isEmpty })
  }

  @Test func aGuardExitsWithItsServersStatusAndPassesATermOn() async throws {
    let caravan = try TestPaths.binary("caravan")
    let exit3 = try Spawn.start([caravan, "guard", "--parent", String(getpid()), "--", "/bin/sh", "-c", "exit 3"], environment: [:], newSession: true)
    #expect(await Spawn.wait(exit3) == 3)
    // A TERM addressed to the guard alone reaches the server.
    let guarded = try Spawn.start([caravan, "guard", "--parent", String(getpid()), "--", "/bin/sleep", "300"], environment: [:], newSession: true)
    try await Task.sleep(for: .milliseconds(500))
    kill(guarded, SIGTERM)
    #expect(await Spawn.wait(guarded) == 128 + SIGTERM)
  }

  @Test func aGuardWhoseParentIsAlreadyGoneStartsNothing() async throws {
    let caravan = try TestPaths.binary("caravan")
    let dir = try TestPaths.temporaryDirectory("guard-late")
    let marker = dir.appendingPathComponent("started").path
    // Its parent is this test process, not the pid it is told to watch: it must refuse to start.
    let pid = try Spawn.start([caravan, "guard", "--parent", String(Int32.max), "--", "/usr/bin/touch", marker], environment: [:], newSession: true)
    #expect(await Spawn.wait(pid) == 128 + SIGKILL)
    #expect(!FileManager.default.fileExists(atPath: marker))
  }
}

/// A pid read from a file is signalled only when it is proven to be the task's own.
@Suite struct OwnedProcessGroupsTests {
  @Test func statParsingCountsFieldsFromTheLastParenthesis() throws {
    let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 987654 0 0"
    let status = try #require(ProcessTable.parseStatForTests(line))
    #expect(status.pid == 4242 && status.parent == 1 && status.group == 4242 && status.session == 4242 && status.startTime == 987654)
  }

  @Test func pidFileLinesRoundTrip() {
    let groups = OwnedProcessGroups(entries: [.init(pid: 12, startTime: 345), .init(pid: 67, startTime: nil)])
    #expect(OwnedProcessGroups(text: groups.text) == groups)
    #expect(OwnedProcessGroups(text: "garbage\n1 2\n-5\n99 x\n").entries == [.init(pid: 99, startTime: nil)])
  }

  @Test func aStalePIDNamingAStrangersProcessIsNotSignalled() async throws {
    // A live process that is not the task's: no token, and a start time other than the listed one.
    let stranger = try Spawn.start(["/bin/sleep", "60"], environment: ["PATH": "/usr/bin:/bin"], newSession: true)
    defer {
      kill(stranger, SIGKILL)
      _ = waitpid(stranger, nil, 0)
    }
    let start = try #require(ProcessTable.status(stranger)?.startTime)
    let file = try TestPaths.temporaryDirectory("stale").appendingPathComponent("servers.pids").path
    try OwnedProcessGroups(entries: [.init(pid: stranger, startTime: start + 1)]).text.write(toFile: file, atomically: true, encoding: .utf8)
    let stopped = await OwnedProcessGroups.stopOwned(listedIn: file, token: "not-its-token", patience: .seconds(1))
    #expect(stopped.isEmpty)
    #expect(processIsAlive(stranger))
    // A bare pid (an older pid file's line) proves nothing either.
    try "\(stranger)\n".write(toFile: file, atomically: true, encoding: .utf8)
    #expect(await OwnedProcessGroups.stopOwned(listedIn: file, token: nil, patience: .seconds(1)).isEmpty)
    #expect(processIsAlive(stranger))
  }

  @Test func theTasksOwnGroupsAreStoppedByStartTimeOrByToken() async throws {
    let token = UUID().uuidString
    let byStart = try Spawn.start(["/bin/sleep", "60"], environment: [:], newSession: true)
    let byToken = try Spawn.start(["/bin/sleep", "60"], environment: [ProcessTable.tokenVariable: token], newSession: true)
    async let first = Spawn.wait(byStart)
    async let second = Spawn.wait(byToken)
    let start = try #require(ProcessTable.status(byStart)?.startTime)
    let file = try TestPaths.temporaryDirectory("owned").appendingPathComponent("servers.pids").path
    try OwnedProcessGroups(entries: [.init(pid: byStart, startTime: start), .init(pid: byToken, startTime: nil)]).text
      .write(toFile: file, atomically: true, encoding: .utf8)
    let stopped = await OwnedProcessGroups.stopOwned(listedIn: file, token: token, patience: .seconds(5))
    #expect(Set(stopped) == [byStart, byToken])
    #expect(await first == 128 + SIGTERM)
    #expect(await second == 128 + SIGTERM)
  }

  @Test func aPortIsOursOnlyWhenOurProcessTreeHoldsTheListeningSocket() async throws {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    #expect(bound == 0)
    #expect(listen(fd, 1) == 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    let port = Int(UInt16(bigEndian: address.sin_port))
    // This test process listens there: its tree owns the port; a sleep of its own does not.
    #expect(ProcessTable.owner(ofPort: port, root: getpid()) == .ours)
    let other = try Spawn.start(["/bin/sleep", "60"], environment: [:], newSession: true)
    defer {
      kill(other, SIGKILL)
      _ = waitpid(other, nil, 0)
    }
    #expect(ProcessTable.owner(ofPort: port, root: other) == .someoneElse)
    #expect(ProcessTable.owner(ofPort: try freeLoopbackPort(), root: getpid()) == .unknown)
  }

  /// /proc/net/tcp reads as size 0; Foundation's readers stop after its first page (27 sockets),
  /// so on a busy node a listening socket further down was never found.
  @Test func aListeningSocketIsFoundPastTheFirstPageOfTheTable() throws {
    var sockets: [Int32] = []
    defer { sockets.forEach { close($0) } }
    var last = 0
    for _ in 0..<200 {
      let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      sockets.append(fd)
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_addr.s_addr = inet_addr("127.0.0.1")
      _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
      try #require(listen(fd, 1) == 0)
      var length = socklen_t(MemoryLayout<sockaddr_in>.size)
      _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
      last = Int(UInt16(bigEndian: address.sin_port))
    }
    #expect(ProcessTable.listeningSocket(port: last) != nil, "port \(last), one of 200 listening sockets")
    #expect(ProcessTable.owner(ofPort: last, root: getpid()) == .ours)
  }
}
