import Testing

@testable import CaravanRender

@Suite struct HTMLNumberTests {
  /// A coordinate or label past Int's range (a rate from saturated token counts) trapped in `Int(_:)`.
  @Test func hugeNumbersAreWrittenNotTrapped() {
    #expect(HTMLReport.fmt(1e300).count == 301)
    #expect(HTMLReport.fmt(-1e19) == "-10000000000000000000")
    #expect(HTMLReport.fmt(12.34) == "12.3")
    #expect(HTMLReport.fmt(3) == "3")
    #expect(HTMLReport.fmt(.infinity) == "0")
  }
}
