import CaravanProcess
import CaravanRun
import ArgumentParser
import CaravanRender
import CaravanStorage
import Foundation

extension Caravan {
  /// `caravan container def|build`: the Apptainer image with an inference engine and Caravan's worker.
  struct Container: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write or build the Apptainer image (an inference engine plus Caravan's worker).",
      subcommands: [Def.self, Build.self]
    )

    /// `caravan container def`
    struct Def: ParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Print (or write) the Apptainer definition, or check a definition file.",
        discussion: """
          The final stage is the engine's official image at a pinned tag: \(ApptainerDefinition.Engine.allCases.map { "\($0.image):\($0.defaultVersion)" }.joined(separator: ", ")). \
          The checked-in apptainer/ENGINE.def is exactly what this prints for that engine with the defaults.
          """
      )

      @Option(help: "The inference engine whose official image the definition builds on.")
      var engine: ApptainerDefinition.Engine = .ollama

      // One flag for every engine: each engine has exactly one knob, its image tag, and
      // per-engine flags would mostly be flags that contradict --engine.
      @Option(help: ArgumentHelp("The engine image's tag to pin (default: the engine's pinned tag).", valueName: "tag"))
      var engineVersion: String?

      @Option(help: ArgumentHelp("The same as --engine-version, for --engine ollama.", valueName: "tag"))
      var ollamaVersion: String?

      @Option(help: "Write the definition here instead of printing it.")
      var out: String?

      @Option(help: "Check this definition file's structure instead of writing one.")
      var check: String?

      /// The tag asked for, if any; validate() has ruled out contradictions.
      var tag: String? { engineVersion ?? ollamaVersion }

      func validate() throws {
        if ollamaVersion != nil, engine != .ollama {
          throw ValidationError("--ollama-version is for --engine ollama; use --engine-version to pin the \(engine.displayName) image")
        }
        if let ollamaVersion, let engineVersion, ollamaVersion != engineVersion {
          throw ValidationError("--ollama-version \(ollamaVersion) and --engine-version \(engineVersion) disagree; give one of them")
        }
        if let tag, !ApptainerDefinition.isValidTag(tag) {
          throw ValidationError("'\(tag)' is not an image tag (letters, digits, '_', '.' and '-', not starting with '.' or '-'), e.g. \(engine.defaultVersion)")
        }
      }

      func run() throws {
        if let check {
          let text: String
          guard let data = FileManager.default.contents(atPath: check) else { throw fail("cannot read \(check): \(String(cString: strerror(errno)))") }
          text = String(decoding: data, as: UTF8.self)
          let problems = DefinitionLint.problems(in: text)
          guard problems.isEmpty else {
            throw failInput(problems.map { "\(check):\($0.line): \($0.message)" }.joined(separator: "\n"))
          }
          print("\(check): ok")
          return
        }
        let definition = ApptainerDefinition(engine: engine, engineVersion: tag, caravanVersion: Caravan.version)
        let text = definition.render()
        if let out {
          do { try Data(text.utf8).writeAtomically(to: out) } catch { throw fail("\(error)") }
          print("Wrote \(out) (\(engine.displayName) \(definition.engineVersion)). Build it with: caravan container build --def \(out)")
        } else {
          print(text, terminator: "")
        }
      }
    }

    /// `caravan container build`
    struct Build: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Build the .sif with apptainer (run from Caravan's source tree), here or as a Slurm job.",
        discussion: """
          Runs `apptainer build --fakeroot SIF DEF` with APPTAINER_CACHEDIR and APPTAINER_TMPDIR on \
          scratch storage (default: $SCRATCH, else $TMPDIR, else /tmp), since image layers fill small \
          HOME quotas. --slurm submits the same command as a batch job.
          """
      )

      @Option(help: "The definition file.")
      var def = "apptainer/ollama.def"

      @Option(help: ArgumentHelp("The image to write (default: the definition's name with .sif, e.g. ollama.sif).", valueName: "file"))
      var sif: String?

      @Option(help: "Folder for Apptainer's cache and temporary files.")
      var scratch: String?

      @Flag(help: "Submit the build as a Slurm job instead of running it here.")
      var slurm = false

      func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        // apptainer/vllm.def becomes vllm.sif: the image is named after its engine, not always ollama.sif.
        let sif = sif ?? URL(fileURLWithPath: def).deletingPathExtension().lastPathComponent + ".sif"
        let build = ContainerBuild(
          definition: def, image: sif,
          scratch: scratch ?? environment["SCRATCH"] ?? environment["TMPDIR"] ?? "/tmp",
          commit: (try? await ProcessRunner().run("git", ["rev-parse", "--short", "HEAD"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? "unknown")
        do {
          try build.checkPrerequisites()
          if slurm {
            let id = try await build.submit()
            print("Submitted the image build as job \(id); the image will be \(sif).")
          } else {
            print("$ " + build.command.joined(separator: " "))
            try await build.run()
            print("Built \(sif).")
          }
        } catch {
          throw fail("\(error)")
        }
      }
    }
  }
}

extension ApptainerDefinition.Engine: ExpressibleByArgument {}
