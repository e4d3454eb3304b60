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
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
  ],
  targets: [
    // Pure model: spec, validation, variants, sharding, records, Modelfiles, sampling. No IO.
    .target(
      name: "CaravanCore",
      dependencies: [.product(name: "Yams", package: "Yams")]
    ),
    // Pure text generation: sbatch scripts (and later Apptainer definitions, reports).
    .target(name: "CaravanRender", dependencies: ["CaravanCore"]),
    // HTTP client for the Ollama API.
    .target(
      name: "CaravanOllama",
      dependencies: [
        "CaravanCore",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
      ]
    ),
    // libslurm's C API: module.modulemap + shim.h. Only CaravanSlurm imports it.
    .systemLibrary(name: "CSlurm"),
    // Scheduler backends behind one protocol: libslurm, sbatch/squeue/scancel, and local processes.
    .target(
      name: "CaravanSlurm",
      dependencies: [
        "CaravanCore", "CaravanRender",
        .target(name: "CSlurm", condition: .when(traits: ["LibSlurm"])),
      ]
    ),
    // The run directory's IO and what runs inside the job: readiness, dispatch, retries,
    // resume, result writing, collect.
    .target(
      name: "CaravanWorker",
      dependencies: [
        "CaravanCore", "CaravanRender", "CaravanOllama", "CaravanSlurm",
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    .executableTarget(
      name: "caravan",
      dependencies: [
        "CaravanCore", "CaravanRender", "CaravanOllama", "CaravanSlurm", "CaravanWorker",
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
    .target(name: "CaravanTestSupport", dependencies: ["CaravanCore", "CaravanSlurm"], path: "Tests/CaravanTestSupport"),
    .testTarget(name: "CaravanCoreTests", dependencies: ["CaravanCore", "CaravanTestSupport"], exclude: ["Snapshots"]),
    .testTarget(
      name: "CaravanRenderTests",
      dependencies: ["CaravanRender", "CaravanTestSupport"],
      exclude: ["Snapshots"]
    ),
    .testTarget(
      name: "CaravanOllamaTests",
      dependencies: [
        "CaravanOllama", "CaravanTestSupport",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
      ]
    ),
    .testTarget(name: "CaravanSlurmTests", dependencies: ["CaravanSlurm", "CaravanTestSupport"]),
    .testTarget(
      name: "CaravanWorkerTests",
      dependencies: ["CaravanWorker", "CaravanTestSupport", .product(name: "Logging", package: "swift-log")]
    ),
    // End to end through the built executables and the local Slurm cluster (SLURM_CONF).
    .testTarget(name: "CaravanIntegrationTests", dependencies: ["CaravanCore", "CaravanTestSupport"]),
  ]
)

for target in package.targets where target.type != .system {
  target.swiftSettings = (target.swiftSettings ?? []) + strict
}
