// swift-tools-version: 6.1
import Foundation
import PackageDescription

/// Whether libslurm's header is installed (Debian's libslurm-dev puts it in /usr/include).
let slurmHeaderInstalled = ["/usr/include/slurm/slurm.h", "/usr/local/include/slurm/slurm.h"].contains {
  FileManager.default.fileExists(atPath: $0)
}

// CI sets CARAVAN_STRICT=1: Caravan's own targets then treat warnings as errors.
let strict: [SwiftSetting] = Context.environment["CARAVAN_STRICT"] == "1" ? [.unsafeFlags(["-warnings-as-errors"])] : []

let package = Package(
  name: "Caravan",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "caravan", targets: ["caravan"]),
    .executable(name: "ollama-sim", targets: ["ollama-sim"]),
  ],
  // LibSlurm: submit, query and cancel through libslurm (Debian's libslurm-dev). On by default
  // where slurm/slurm.h is installed, so a plain `swift build` works on any machine;
  // `--disable-default-traits` leaves it out, `--traits LibSlurm` asks for it.
  traits: [
    .trait(name: "LibSlurm", description: "Talk to slurmctld through libslurm (needs libslurm-dev)."),
    .default(enabledTraits: slurmHeaderInstalled ? ["LibSlurm"] : []),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
  ],
  // What runs where (README, "Code layout"): Core and Render are pure; Process, Storage, Ollama and
  // Slurm are the edges (children, files, HTTP, the scheduler); Worker runs inside the job, Run on
  // the login node; the executables are thin.
  targets: [
    // Pure values: spec, validation, plan, BatchJob, records, Modelfiles, statistics. No IO.
    .target(name: "CaravanCore", dependencies: [.product(name: "Yams", package: "Yams")]),
    // Pure text: sbatch and server scripts, Apptainer definitions, reports, RunFiles.
    .target(name: "CaravanRender", dependencies: ["CaravanCore"]),
    // prctl and a signal-recording handler in C (prctl is variadic, so Swift cannot call it).
    .target(name: "CProcessControl"),
    // epoll and eventfd, for the worker's plain HTTP loop.
    .target(name: "CEventPoll"),
    // Child processes: spawning with a clean signal state, process groups, timeouts, PATH, ports,
    // the orphan guard, and proving a pid is this task's own before signalling it.
    .target(name: "CaravanProcess", dependencies: ["CProcessControl"]),
    // The run directory on shared storage: atomic creation, JSONL records, chunked line reading.
    .target(name: "CaravanStorage", dependencies: ["CaravanCore"]),
    // HTTP clients for inference servers (Ollama's API) and readiness.
    .target(
      name: "CaravanOllama",
      dependencies: [
        "CaravanCore", "CaravanProcess", "CEventPoll",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
      ]
    ),
    // libslurm's C API: module.modulemap + shim.h. Only CaravanSlurm imports it.
    .systemLibrary(name: "CSlurm"),
    // Schedulers behind one protocol: libslurm, sbatch/squeue/scancel, and local processes.
    .target(
      name: "CaravanSlurm",
      dependencies: [
        "CaravanCore", "CaravanProcess",
        .target(name: "CSlurm", condition: .when(traits: ["LibSlurm"])),
      ]
    ),
    // Only what runs inside the job: servers, readiness, dispatch, retries, telemetry, records.
    .target(
      name: "CaravanWorker",
      dependencies: [
        "CaravanCore", "CaravanOllama", "CaravanProcess", "CaravanStorage",
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    // The login side: writing and submitting runs, collect, status, the model store, image builds.
    .target(
      name: "CaravanRun",
      dependencies: ["CaravanCore", "CaravanRender", "CaravanOllama", "CaravanProcess", "CaravanStorage", "CaravanSlurm"]
    ),
    .executableTarget(
      name: "caravan",
      dependencies: [
        "CaravanCore", "CaravanRender", "CaravanOllama", "CaravanProcess", "CaravanStorage", "CaravanSlurm",
        "CaravanWorker", "CaravanRun",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    // A faithful stand-in for `ollama serve`, for tests and CPU rehearsals.
    .executableTarget(
      name: "ollama-sim",
      dependencies: [
        "CaravanCore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    // Helpers shared by the test targets: paths, processes, a simulator on a free port, goldens.
    .target(name: "CaravanTestSupport", dependencies: ["CaravanCore", "CaravanProcess", "CaravanRun"], path: "Tests/CaravanTestSupport"),
    .testTarget(name: "CaravanCoreTests", dependencies: ["CaravanCore", "CaravanTestSupport"], exclude: ["Snapshots"]),
    .testTarget(
      name: "CaravanRenderTests",
      dependencies: ["CaravanRender", "CaravanCore", "CaravanProcess", "CaravanTestSupport"],
      exclude: ["Snapshots"]
    ),
    .testTarget(name: "CaravanProcessTests", dependencies: ["CaravanProcess", "CaravanTestSupport"]),
    .testTarget(name: "CaravanStorageTests", dependencies: ["CaravanStorage", "CaravanCore", "CaravanTestSupport"]),
    .testTarget(
      name: "CaravanOllamaTests",
      dependencies: [
        "CaravanOllama", "CaravanCore", "CaravanProcess", "CaravanTestSupport",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
      ]
    ),
    .testTarget(
      name: "CaravanSlurmTests",
      dependencies: ["CaravanSlurm", "CaravanCore", "CaravanRender", "CaravanProcess", "CaravanTestSupport"]
    ),
    .testTarget(
      name: "CaravanWorkerTests",
      dependencies: [
        "CaravanWorker", "CaravanCore", "CaravanOllama", "CaravanProcess", "CaravanStorage", "CaravanRun", "CaravanTestSupport",
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    .testTarget(
      name: "CaravanRunTests",
      dependencies: ["CaravanRun", "CaravanCore", "CaravanRender", "CaravanStorage", "CaravanTestSupport"]
    ),
    // End to end through the built executables and the local Slurm cluster (SLURM_CONF).
    .testTarget(name: "CaravanIntegrationTests", dependencies: ["CaravanCore", "CaravanProcess", "CaravanTestSupport"]),
  ]
)

// Fuzz targets (Fuzz/, libFuzzer): declared only for scripts/fuzz.sh, which sets CARAVAN_FUZZ=1
// and builds them with --sanitize=fuzzer in its own build folder; `swift build` and the tests
// never see them.
if Context.environment["CARAVAN_FUZZ"] == "1" {
  for name in ["fuzz-spec", "fuzz-prompts", "fuzz-modelfile", "fuzz-stream-lines", "fuzz-json"] {
    package.targets.append(.executableTarget(name: name, dependencies: ["CaravanCore"], path: "Fuzz/\(name)"))
    package.products.append(.executable(name: name, targets: [name]))
  }
}

for target in package.targets where target.type != .system {
  target.swiftSettings = (target.swiftSettings ?? []) + strict
}
