extension UnsafeRawPointer {
  /// The first `min(count, 8)` bytes here as a little-endian word, zero above them, with no
  /// load past them: two loads that overlap in the middle, whose common bytes agree. (Copying
  /// the bytes into a word in memory and loading it stalls the CPU: no store forwarding.)
  @inline(__always)
  func littleEndianWord(count: Int) -> UInt64 {
    switch count {
    case 8...:
      return UInt64(littleEndian: loadUnaligned(as: UInt64.self))
    case 4...7:
      let low = UInt64(UInt32(littleEndian: loadUnaligned(as: UInt32.self)))
      let high = UInt64(UInt32(littleEndian: loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)))
      return low | high << UInt64(8 * (count - 4))
    case 2...3:
      let low = UInt64(UInt16(littleEndian: loadUnaligned(as: UInt16.self)))
      let high = UInt64(UInt16(littleEndian: loadUnaligned(fromByteOffset: count - 2, as: UInt16.self)))
      return low | high << UInt64(8 * (count - 2))
    case 1:
      return UInt64(load(as: UInt8.self))
    default:
      return 0
    }
  }
}
