/// The answers the reports show side by side: every variant's repeats of the first prompts in
/// plan order, so a reader sees whether the repeats agree. Memory stays flat however many records
/// a collect streams: only `promptLimit` prompts and `repeatLimit` repeats of each are kept, each
/// cut to `characterLimit` characters and `lineLimit` lines when it arrives. Whether two repeats
/// are identical is judged on their whole texts (by hash), not on the part kept.
public struct AnswerSample: Sendable, Equatable {
  /// One repeat's answer, or its error, as the reports show it.
  public struct Answer: Sendable, Equatable {
    public var `repeat`: Int
    public var isError: Bool
    /// The start of the text, surrounding whitespace left out; `…` ends it when `isCut`.
    public var excerpt: String
    public var isCut: Bool
    /// A hash of the whole text (and whether it is an error): equal for identical answers.
    public var fingerprint: UInt64
  }

  /// Repeats with identical texts, in the order they first appear.
  public struct Group: Sendable, Equatable {
    public var repeats: [Int]
    public var answer: Answer
  }

  /// The repeats of one prompt under one variant.
  public struct Row: Sendable, Equatable {
    public var prompt: String
    public var variant: String
    /// Records of this prompt and variant, kept or not.
    public var recorded = 0
    /// The first `repeatLimit` of them, in plan order.
    public var answers: [Answer] = []

    public var groups: [Group] {
      var groups: [Group] = []
      for answer in answers {
        if let index = groups.firstIndex(where: { $0.answer.fingerprint == answer.fingerprint }) {
          groups[index].repeats.append(answer.repeat)
        } else {
          groups.append(Group(repeats: [answer.repeat], answer: answer))
        }
      }
      return groups
    }
  }

  public let promptLimit: Int
  public let repeatLimit: Int
  public let characterLimit: Int
  public let lineLimit: Int
  /// Rows of the kept prompts, in the order their first records came.
  public private(set) var rows: [Row] = []
  /// Prompts with at least one record, kept or not.
  public private(set) var promptCount = 0
  /// Prompts whose rows are kept (at most `promptLimit`).
  public private(set) var keptPrompts: [String] = []
  private var rowIndex: [String: [String: Int]] = [:]
  private var lastPrompt: String?
  /// Whether `lastPrompt`'s rows are kept.
  private var lastIsKept = false

  public init(promptLimit: Int = 20, repeatLimit: Int = 5, characterLimit: Int = 300, lineLimit: Int = 4) {
    self.promptLimit = promptLimit
    self.repeatLimit = repeatLimit
    self.characterLimit = characterLimit
    self.lineLimit = lineLimit
  }

  /// Adds a record; records come in plan order, so a prompt's records arrive together and a new
  /// id is a new prompt (counted without remembering every id).
  public mutating func add(_ record: ResultRecord) {
    // A prompt's records come together: its id is looked up once, at its first record.
    if record.id != lastPrompt {
      lastPrompt = record.id
      lastIsKept = rowIndex[record.id] != nil
      if !lastIsKept {
        promptCount += 1
        if keptPrompts.count < promptLimit {
          keptPrompts.append(record.id)
          rowIndex[record.id] = [:]
          lastIsKept = true
        }
      }
    }
    guard lastIsKept else { return }
    let row: Int
    if let existing = rowIndex[record.id]?[record.variant] {
      row = existing
    } else {
      row = rows.count
      rows.append(Row(prompt: record.id, variant: record.variant))
      rowIndex[record.id]![record.variant] = row
    }
    let isError = record.status == .error
    let text = isError ? record.error ?? "unknown error" : record.response ?? ""
    let (excerpt, isCut) = Self.excerpt(text, characters: characterLimit, lines: lineLimit)
    let answer = Answer(repeat: record.repeat, isError: isError, excerpt: excerpt, isCut: isCut, fingerprint: stableHash((isError ? "error\u{0}" : "ok\u{0}") + text))
    // A key recorded twice is counted once, with its later record, as collect keeps it.
    if let same = rows[row].answers.firstIndex(where: { $0.repeat == record.repeat }) {
      rows[row].answers[same] = answer
      return
    }
    rows[row].recorded += 1
    if rows[row].answers.count < repeatLimit { rows[row].answers.append(answer) }
  }

  /// The start of `text` for a report: at most `characters` characters and `lines` lines, with
  /// the whitespace around it left out and `…` where the rest was cut. It reads only as far as
  /// it keeps, so a huge answer costs no more than a short one.
  public static func excerpt(_ text: String, characters: Int, lines: Int) -> (text: String, isCut: Bool) {
    let body = text.drop { $0.isWhitespace }
    var out = ""
    var count = 0, line = 1
    var index = body.startIndex
    while index < body.endIndex, count < characters {
      let character = body[index]
      if character.isNewline {
        if line == lines { break }
        line += 1
      }
      out.append(character)
      count += 1
      index = body.index(after: index)
    }
    let isCut = !body[index...].allSatisfy(\.isWhitespace)
    while out.last?.isWhitespace == true { out.removeLast() }
    return (isCut ? out + "…" : out, isCut)
  }
}
