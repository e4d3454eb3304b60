import Foundation

/// The two JSON shapes Caravan writes: one value per line (shards, records, timing events), and
/// readable documents (the resolved spec, the manifest). Keys are sorted so files diff cleanly.
public enum JSONFormats {
  /// One compact value per line.
  public static func lineEncoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
  }

  /// An indented document for a person to read.
  public static func documentEncoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return encoder
  }
}
