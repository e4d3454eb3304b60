import CaravanCore
import CaravanRender
import CaravanTestSupport
import Foundation
import Testing

/// `caravan init`'s spec: what sinfo said becomes the partition and GPU count, with a comment
/// saying so; without Slurm the partition is a commented-out placeholder.
@Suite struct StarterSpecTests {
  static let snapshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")

  @Test func withoutSlurmThePartitionIsAPlaceholderThatSaysWhy() throws {
    let starter = StarterSpec(name: "first-job", cluster: .unavailable("sinfo is not on PATH"), version: "0.1.0")
    let spec = starter.renderSpec()
    #expect(spec.contains("  #   sinfo is not on PATH\n"))
    #expect(spec.contains("  # partition: gpu\n"))
    #expect(!spec.contains("\n  partition:"))
    #expect(starter.notes().contains { $0.contains("No Slurm answered (sinfo is not on PATH)") })
    #expect(try goldenMismatch(spec, golden: Self.snapshots.appendingPathComponent("init-no-slurm.yaml.golden")) == nil)
  }

  @Test func sinfosDefaultPartitionAndItsGPUsAreUsedAndListed() throws {
    let partitions = SlurmPartition.parse("cpu|(null)\ngpu*|gpu:a100:4(S:0-1),shard:8\ngpu*|gpu:h100:8\n")
    #expect(partitions == [
      SlurmPartition(name: "cpu", isDefault: false, gpuGres: []),
      SlurmPartition(name: "gpu", isDefault: true, gpuGres: ["gpu:a100:4", "gpu:h100:8"]),
    ])
    #expect(partitions[1].maxGPUs == 8)
    let starter = StarterSpec(name: "first-job", cluster: .partitions(partitions), version: "0.1.0")
    let spec = starter.renderSpec()
    #expect(spec.contains("  #   cpu: no GPUs\n  #   gpu*: gpu:a100:4, gpu:h100:8\n"))
    #expect(spec.contains("\n  partition: gpu\n"))
    #expect(spec.contains("\n  gpus_per_node: 1\n"))
    #expect(starter.notes().contains("From sinfo: partitions cpu, gpu*; using gpu with gpus_per_node 1 (its nodes have gpu:a100:4, gpu:h100:8)."))
    #expect(try goldenMismatch(spec, golden: Self.snapshots.appendingPathComponent("init-slurm.yaml.golden")) == nil)
  }

  @Test func aPartitionWithoutGPUsGetsZeroGPUsAndAnOddNameIsQuoted() {
    let starter = StarterSpec(name: "x", cluster: .partitions([SlurmPartition(name: "no", isDefault: false, gpuGres: [])]), version: "0.1.0")
    let spec = starter.renderSpec()
    // `no` unquoted is YAML 1.1's false.
    #expect(spec.contains("\n  partition: \"no\"\n"))
    #expect(spec.contains("\n  gpus_per_node: 0\n"))
  }

  @Test func theJobNameComesFromTheFolderOrIsFirstJob() {
    #expect(StarterSpec.name(fromFolder: "my experiment!") == "myexperiment")
    #expect(StarterSpec.name(fromFolder: "…") == "first-job")
  }
}
