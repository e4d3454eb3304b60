import Foundation

/// One GPU's telemetry as running sums, fed with its samples in time order: utilisation, memory,
/// power, and energy. Its size does not grow with the number of samples.
///
/// Energy is the trapezoid integral of power over time. An interval much longer than the usual
/// sampling interval is a gap (the job was requeued, or the sampler was down), not a time at
/// constant power, so intervals longer than `gapFactor` times the median interval are left out.
/// Finding the median without keeping every interval: intervals are counted, with their energy,
/// in bins 5% wide on a log scale, which puts the median, and so the cut, within 5%.
public struct GPUUsage: Sendable, Equatable {
  /// Intervals longer than this many medians are gaps.
  public static let gapFactor = 10.0
  static let binRatio = 1.05

  public private(set) var samples = 0
  public private(set) var utilizationMax: Double?
  public private(set) var memoryMaxMiB: Double?
  public private(set) var first: Double?
  public private(set) var last: Double?
  var utilizationSum = 0.0
  var utilizationCount = 0
  var powerSum = 0.0
  var powerCount = 0
  /// Per log-bin of interval length: intervals seen and the joules they hold.
  private var bins: [Int: Bin] = [:]
  /// The last sample with a power reading in the current series.
  private var previous: Reading?

  private struct Bin: Sendable, Equatable {
    var intervals = 0
    var joules = 0.0
  }

  private struct Reading: Sendable, Equatable {
    var time: Double
    var power: Double
  }

  public init() {}

  /// Adds the next sample of this GPU; `time` is seconds on any fixed clock (the sample's timestamp).
  public mutating func add(time: Double, utilization: Double?, memoryUsedMiB: Double?, power: Double?) {
    samples += 1
    first = min(first ?? time, time)
    last = max(last ?? time, time)
    if let utilization {
      utilizationSum += utilization
      utilizationCount += 1
      utilizationMax = max(utilizationMax ?? utilization, utilization)
    }
    if let memoryUsedMiB { memoryMaxMiB = max(memoryMaxMiB ?? memoryUsedMiB, memoryUsedMiB) }
    guard let power else { return }
    powerSum += power
    powerCount += 1
    defer { previous = Reading(time: time, power: power) }
    guard let previous else { return }
    let seconds = time - previous.time
    guard seconds > 0 else { return }  // a repeated or backwards timestamp starts over from here
    let bin = Int((log(seconds) / log(Self.binRatio)).rounded(.down))
    bins[bin, default: Bin()].intervals += 1
    bins[bin, default: Bin()].joules += (previous.power + power) / 2 * seconds
  }

  public mutating func add(_ sample: GPUSample) {
    add(time: sample.timestamp.timeIntervalSince1970, utilization: sample.utilization, memoryUsedMiB: sample.memoryUsed, power: sample.power)
  }

  /// Ends the current series (one telemetry file): the next sample does not close an interval.
  public mutating func endSeries() { previous = nil }

  public var utilizationMean: Double? { utilizationCount > 0 ? utilizationSum / Double(utilizationCount) : nil }
  /// Mean of the power readings, in watts.
  public var powerMean: Double? { powerCount > 0 ? powerSum / Double(powerCount) : nil }

  /// The median interval between power readings, to within 5% (the geometric middle of its bin).
  public var medianIntervalSeconds: Double? { medianBin.map { pow(Self.binRatio, Double($0) + 0.5) } }

  /// Joules over the intervals that are not gaps; nil when there is no interval with power.
  public var energyJoules: Double? {
    guard let median = medianBin else { return nil }
    // A bin is kept when its shortest interval is within gapFactor of the median bin's longest.
    let cut = Double(median + 1) + log(Self.gapFactor) / log(Self.binRatio)
    return bins.filter { Double($0.key) <= cut }.values.reduce(0) { $0 + $1.joules }
  }

  /// The bin that holds the median interval.
  private var medianBin: Int? {
    let total = bins.values.reduce(0) { $0 + $1.intervals }
    guard total > 0 else { return nil }
    var seen = 0
    for key in bins.keys.sorted() {
      seen += bins[key]!.intervals
      if 2 * seen >= total { return key }
    }
    return nil
  }
}

/// GPU telemetry for a row of the reports (one GPU, or every GPU of a node).
public struct GPUSummary: Sendable, Equatable {
  public var gpus: Int
  public var samples: Int
  /// Mean and peak of utilization.gpu over every sample, in percent.
  public var utilizationMean: Double?
  public var utilizationMax: Double?
  /// Peak memory.used of any one GPU, in MiB.
  public var memoryMaxMiB: Double?
  /// Mean power.draw of one GPU over every sample, in watts.
  public var powerMean: Double?
  /// Energy of all the GPUs together, in joules.
  public var energyJoules: Double?

  public init(_ usages: [GPUUsage]) {
    gpus = usages.count
    samples = usages.reduce(0) { $0 + $1.samples }
    let utilizations = usages.reduce(0) { $0 + $1.utilizationCount }
    utilizationMean = utilizations > 0 ? usages.reduce(0) { $0 + $1.utilizationSum } / Double(utilizations) : nil
    utilizationMax = usages.compactMap(\.utilizationMax).max()
    memoryMaxMiB = usages.compactMap(\.memoryMaxMiB).max()
    let powers = usages.reduce(0) { $0 + $1.powerCount }
    powerMean = powers > 0 ? usages.reduce(0) { $0 + $1.powerSum } / Double(powers) : nil
    let energies = usages.compactMap(\.energyJoules)
    energyJoules = energies.isEmpty ? nil : energies.reduce(0, +)
  }

  /// Generated tokens per joule of GPU energy.
  public func tokensPerJoule(_ tokens: Int) -> Double? {
    guard let energyJoules, energyJoules > 0 else { return nil }
    return Double(tokens) / energyJoules
  }
}
