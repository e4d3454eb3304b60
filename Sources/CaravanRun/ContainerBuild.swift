import CaravanProcess
import CaravanRender
import Foundation

/// `apptainer build` for Caravan's image (any engine's definition), run here or submitted as a Slurm job.
public struct ContainerBuild: Sendable {
  public var definition: String
  public var image: String
  /// Where Apptainer keeps its layer cache and temporary files (not HOME: quotas).
  public var scratch: String
  /// Source commit recorded in the image's labels.
  public var commit: String

  public init(definition: String, image: String, scratch: String, commit: String) {
    self.definition = definition
    self.image = image
    self.scratch = scratch
    self.commit = commit.isEmpty ? "unknown" : commit
  }

  /// Unprivileged builds from a definition need --fakeroot (user namespaces); root needs none.
  public var command: [String] {
    var command = ["apptainer", "build"]
    if getuid() != 0 { command.append("--fakeroot") }
    command += ["--build-arg", "commit=\(commit)", image, definition]
    return command
  }

  public var environment: [String: String] {
    var environment = ProcessInfo.processInfo.environment
    environment["APPTAINER_CACHEDIR"] = scratch + "/apptainer-cache"
    environment["APPTAINER_TMPDIR"] = scratch + "/apptainer-tmp"
    return environment
  }

  /// Explains what is missing before anything runs.
  public func checkPrerequisites() throws {
    guard ProcessRunner.onPath("apptainer") else {
      throw ContainerBuildError("apptainer is not on PATH. On most clusters: `module load apptainer` (or singularity); it cannot be installed from Debian 12's archive.")
    }
    guard FileManager.default.fileExists(atPath: definition) else {
      throw ContainerBuildError("\(definition) does not exist; write it with `caravan container def\(engineFlag) --out \(definition)`")
    }
    if getuid() != 0, let text = try? String(contentsOfFile: "/proc/sys/user/max_user_namespaces", encoding: .utf8),
      Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) == 0
    {
      throw ContainerBuildError("user namespaces are disabled here (/proc/sys/user/max_user_namespaces is 0), so --fakeroot builds cannot run; build on a machine where you are root, or ask your admins for a build node")
    }
  }

  /// ` --engine vllm` when the definition is named after an engine other than the default.
  var engineFlag: String {
    let name = URL(fileURLWithPath: definition).deletingPathExtension().lastPathComponent
    guard let engine = ApptainerDefinition.Engine(rawValue: name), engine != .ollama else { return "" }
    return " --engine \(engine.rawValue)"
  }

  public func run() async throws {
    for folder in [scratch + "/apptainer-cache", scratch + "/apptainer-tmp"] {
      try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }
    let apptainer = try ProcessRunner.path(of: "apptainer")
    let pid = try Spawn.start([apptainer] + command.dropFirst(), environment: environment, stdout: STDOUT_FILENO, stderr: STDERR_FILENO)
    let status = await Spawn.wait(pid)
    guard status == 0 else { throw ContainerBuildError("apptainer build exited \(status)") }
  }

  /// Submits the build with `sbatch --wrap`; returns the job id.
  public func submit() async throws -> String {
    // Quoted for the shell that runs the wrap: --scratch and the paths are the user's.
    let cache = shellQuote(scratch + "/apptainer-cache"), temporary = shellQuote(scratch + "/apptainer-tmp")
    let wrap = "mkdir -p \(cache) \(temporary) && APPTAINER_CACHEDIR=\(cache) APPTAINER_TMPDIR=\(temporary) " + command.map(shellQuote).joined(separator: " ")
    let output = try await ProcessRunner().run("sbatch", ["--parsable", "--job-name=caravan-image", "--time=02:00:00", "--cpus-per-task=4", "--mem=16G", "--output=caravan-image-%j.out", "--wrap", wrap])
    guard output.status == 0 else { throw ContainerBuildError("sbatch refused the build job: \(output.stderr)") }
    return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
  }
}

/// The image could not be built here; the message says what to do instead.
public struct ContainerBuildError: Error, CustomStringConvertible, Sendable {
  public var description: String
  public init(_ description: String) { self.description = description }
}
