import ArgumentParser
import CaravanCore
import CaravanRun
import CaravanStorage
import Foundation

extension Caravan {
  /// `caravan diff`: did a new model, quantisation or setting change the answers?
  struct Diff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Compare two runs' answers, per variant, and list the answers that changed most.",
      discussion: """
        Matches records by key (prompt id, variant, repeat), or by prompt id and variant when the \
        runs' repeats differ (then every answer of one is compared with every answer of the other). \
        Only prompts both runs have are compared; the report says how many keys each run has alone. \
        Per variant: the share of identical answers, the mean word-bag similarity, the change in \
        answer length and in decode tokens/s. Writes diff.md and diff.csv (one row per variant) \
        into --out.
        """
    )

    @Argument(help: "The first run directory (A).")
    var runA: String

    @Argument(help: "The second run directory (B); changes are B over A.")
    var runB: String

    @Option(help: "Folder for diff.md and diff.csv.")
    var out: String = "."

    @Option(help: "How many of the most changed answers to list.")
    var top: Int = 20

    @Flag(help: "Print the per-variant figures as JSON.")
    var json = false

    func validate() throws {
      guard (0...10_000).contains(top) else { throw ValidationError("--top must be between 0 and 10000, not \(top)") }
    }

    func run() async throws {
      let outcome: RunDiff.Outcome
      do {
        outcome = try RunDiff.diff(RunDirectory(path: runA), RunDirectory(path: runB), outputDirectory: out, changeLimit: top)
      } catch let error as RunDirectoryError {
        throw ValidationError("\(error)")
      } catch {
        throw fail("\(error)")
      }
      let comparison = outcome.comparison
      if comparison.variants.allSatisfy({ $0.pairs + $0.errorPairs == 0 }) {
        FileHandle.standardError.write(Data("warning: the two runs have no prompt and variant in common (\(comparison.keysOnlyInA) keys only in A, \(comparison.keysOnlyInB) only in B): nothing was compared\n".utf8))
      }
      if json {
        let variants: [[String: Any]] = comparison.variants.map { v in
          [
            "variant": v.variant, "pairs": v.pairs, "identical": v.identical, "identical_share": v.identicalShare ?? NSNull(),
            "mean_similarity": v.meanSimilarity ?? NSNull(), "length_change": v.lengthChange ?? NSNull(),
            "decode_change": v.decodeChange ?? NSNull(), "error_pairs": v.errorPairs, "label_agreement": v.labelAgreement ?? NSNull(),
          ]
        }
        let object: [String: Any] = [
          "matched_by": comparison.matchedBy, "common_prompts": comparison.commonPrompts,
          "keys_only_in_a": comparison.keysOnlyInA, "keys_only_in_b": comparison.keysOnlyInB, "variants": variants,
          "diff_md": outcome.markdownPath, "diff_csv": outcome.csvPath,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
        return
      }
      print("Compared by \(comparison.matchedBy) on \(comparison.commonPrompts) common prompts; keys only in A: \(comparison.keysOnlyInA), only in B: \(comparison.keysOnlyInB).")
      for v in comparison.variants {
        let share = v.identicalShare.map { String(format: "%.3f", $0) } ?? "-"
        let similarity = v.meanSimilarity.map { String(format: "%.3f", $0) } ?? "-"
        print("  \(v.variant): \(v.pairs) pairs, identical \(share), mean similarity \(similarity)")
      }
      print("Wrote \(outcome.markdownPath) and \(outcome.csvPath).")
    }
  }
}
