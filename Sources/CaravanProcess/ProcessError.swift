/// Starting, finding or talking to a child process failed; the message says which and why.
public struct ProcessError: Error, CustomStringConvertible, Sendable {
  public var description: String
  public init(_ description: String) { self.description = description }
}
