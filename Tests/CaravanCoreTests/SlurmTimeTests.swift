@testable import CaravanCore
import Testing

/// Slurm time strings as `#SBATCH --time` takes them, in minutes for libslurm.
@Suite("Slurm time")
struct SlurmTimeTests {
  @Test("Slurm's time formats convert to minutes", arguments: [
    ("30", 30), ("1:30:00", 90), ("00:30:00", 30), ("2-00:00:00", 2880), ("1-12", 2160),
    ("1-12:30", 2190), ("0-00:00:30", 1), ("5:30", 6), ("90", 90),
  ])
  func valid(text: String, minutes: Int) {
    #expect(SlurmTime.minutes(text) == minutes)
  }

  @Test("malformed times are rejected", arguments: ["", "soon", "1:2:3:4", "-5", "1-", "1--2", "1:-5", "0", "00:00:00", "1h", "1-2:3:4:5", ":30"])
  func invalid(text: String) {
    #expect(SlurmTime.minutes(text) == nil)
  }
}
