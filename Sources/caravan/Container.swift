import CaravanProcess
import CaravanRun
import ArgumentParser
import CaravanRender
import Foundation

extension Caravan {
  /// `caravan container def|build`: the Apptainer image with Ollama and Caravan's worker.
  struct Container: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write or build the Apptainer image (Ollama plus Caravan's worker).",
      subcommands: [Def.self, Build.self]
    )

    /// `caravan container def`
    struct Def: ParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Print (or write) the Apptainer definition, or check a definition file.",
        discussion: "The checked-in apptainer/ollama.def is exactly what this prints with the defaults."
      )

      @Option(help: "Ollama image tag to pin.")
      var ollamaVersion = ApptainerDefinition.defaultOllamaVersion

      @Option(help: "Write the definition here instead of printing it.")
      var out: String?

      @Option(help: "Check this definition file's structure instead of writing one.")
      var check: String?

      func run() throws {
        if let check {
          let text: String
          do { text = try String(contentsOfFile: check, encoding: .utf8) } catch { throw fail("cannot read \(check): \(error.localizedDescription)") }
          let problems = DefinitionLint.problems(in: text)
          guard problems.isEmpty else {
            throw failInput(problems.map { "\(check):\($0.line): \($0.message)" }.joined(separator: "\n"))
          }
          print("\(check): ok")
          return
        }
        let text = ApptainerDefinition(ollamaVersion: ollamaVersion, caravanVersion: Caravan.version).render()
        if let out {
          do { try text.write(toFile: out, atomically: true, encoding: .utf8) } catch { throw fail("cannot write \(out): \(error.localizedDescription)") }
          print("Wrote \(out) (Ollama \(ollamaVersion)). Build it with: caravan container build --def \(out)")
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
          Runs `apptainer build --fakeroot SIF DEF` with APPTAINER_CACHEDIR and APPTAINER_TMPDIR on
          scratch storage (default: $SCRATCH, else $TMPDIR, else /tmp), since image layers fill small
          HOME quotas. --slurm submits the same command as a batch job.
          """
      )

      @Option(help: "The definition file.")
      var def = "apptainer/ollama.def"

      @Option(help: "The image to write.")
      var sif = "ollama.sif"

      @Option(help: "Folder for Apptainer's cache and temporary files.")
      var scratch: String?

      @Flag(help: "Submit the build as a Slurm job instead of running it here.")
      var slurm = false

      func run() async throws {
        let environment = ProcessInfo.processInfo.environment
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
