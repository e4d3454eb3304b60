import Foundation

/// One line of `nvidia-smi --query-gpu=... --format=csv,noheader,nounits`: a GPU at one moment.
///
/// The worker has nvidia-smi write these lines, unchanged, to `telemetry/<node>/shard-NNNN.csv`;
/// `caravan collect` parses them. A field nvidia-smi cannot read (`[N/A]`, `[Not Supported]`,
/// `[Unknown Error]`) becomes nil rather than failing the line.
public struct GPUSample: Sendable, Equatable, Codable {
  /// The `--query-gpu` fields, in the order `parse` expects them.
  public static let queryFields = [
    "timestamp", "index", "uuid", "name", "utilization.gpu", "memory.used", "memory.total", "power.draw", "temperature.gpu",
  ]

  public var timestamp: Date
  public var index: Int
  public var uuid: String
  public var name: String
  /// Percent.
  public var utilization: Double?
  /// MiB.
  public var memoryUsed: Double?
  public var memoryTotal: Double?
  /// Watts.
  public var power: Double?
  /// Degrees Celsius.
  public var temperature: Double?

  public init(timestamp: Date, index: Int, uuid: String, name: String, utilization: Double?, memoryUsed: Double?, memoryTotal: Double?, power: Double?, temperature: Double?) {
    self.timestamp = timestamp
    self.index = index
    self.uuid = uuid
    self.name = name
    self.utilization = utilization
    self.memoryUsed = memoryUsed
    self.memoryTotal = memoryTotal
    self.power = power
    self.temperature = temperature
  }

  /// Parses one CSV line; nil for a line that is not a sample (blank, torn, or an error message).
  /// nvidia-smi writes local time without a zone: `timeZone` is the node's (collect's own).
  public static func parse(_ line: some StringProtocol, timeZone: TimeZone) -> GPUSample? {
    let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    guard fields.count == queryFields.count, let timestamp = parseTimestamp(fields[0], timeZone: timeZone), let index = Int(fields[1]) else { return nil }
    func number(_ field: String) -> Double? { field.hasPrefix("[") ? nil : Double(field).flatMap { $0.isFinite ? $0 : nil } }
    return GPUSample(
      timestamp: timestamp, index: index, uuid: fields[2], name: fields[3],
      utilization: number(fields[4]), memoryUsed: number(fields[5]), memoryTotal: number(fields[6]),
      power: number(fields[7]), temperature: number(fields[8]))
  }

  /// nvidia-smi's timestamp, `2026/11/29 18:59:34.123`, in the node's local time zone.
  /// Parsed by hand: collect reads one per GPU per sample, and Calendar is slow.
  static func parseTimestamp(_ text: String, timeZone: TimeZone) -> Date? {
    let parts = text.split(separator: " ")
    guard parts.count == 2 else { return nil }
    let date = parts[0].split(separator: "/").compactMap { Int($0) }
    let time = parts[1].split(separator: ":")
    // A torn or edited line can hold any digits: the year is bounded before it is multiplied.
    guard date.count == 3, time.count == 3, let hour = Int(time[0]), let minute = Int(time[1]), let second = Double(time[2]),
      (1...9999).contains(date[0]), (1...12).contains(date[1]), (1...31).contains(date[2]), (0..<24).contains(hour), (0..<60).contains(minute),
      second >= 0, second < 61
    else { return nil }
    let local = Double(CivilDate.daysSince1970(year: date[0], month: date[1], day: date[2]) * 86400 + hour * 3600 + minute * 60) + second
    let offset = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: local))
    return Date(timeIntervalSince1970: local - Double(offset))
  }

}

/// Where and how the worker samples GPUs.
public enum NvidiaSmi {
  /// Arguments for a sampler writing one line per GPU every `intervalMs`, for the GPUs in `ids`
  /// (nvidia-smi `-i` takes indices or UUIDs; nil samples every GPU the node shows).
  public static func samplerArguments(intervalMs: Int, ids: [String]?) -> [String] {
    var arguments = ["--query-gpu=" + GPUSample.queryFields.joined(separator: ","), "--format=csv,noheader,nounits", "-lms", String(intervalMs)]
    if let ids, !ids.isEmpty { arguments += ["-i", ids.joined(separator: ",")] }
    return arguments
  }

  /// Arguments for a one-shot inventory: `index, uuid, name` per GPU.
  public static func inventoryArguments(ids: [String]?) -> [String] {
    var arguments = ["--query-gpu=index,uuid,name", "--format=csv,noheader,nounits"]
    if let ids, !ids.isEmpty { arguments += ["-i", ids.joined(separator: ",")] }
    return arguments
  }

  /// Parses the inventory output.
  public static func parseInventory(_ text: String) -> [GPUInfo] {
    text.split(whereSeparator: \.isNewline).compactMap { line in
      let fields = line.split(separator: ",", maxSplits: 2).map { $0.trimmingCharacters(in: .whitespaces) }
      guard fields.count == 3, let index = Int(fields[0]) else { return nil }
      return GPUInfo(index: index, uuid: fields[1], name: fields[2])
    }
  }
}

/// A GPU as nvidia-smi names it.
public struct GPUInfo: Sendable, Equatable, Codable {
  public var index: Int
  public var uuid: String
  public var name: String
  public init(index: Int, uuid: String, name: String) {
    self.index = index
    self.uuid = uuid
    self.name = name
  }
}
