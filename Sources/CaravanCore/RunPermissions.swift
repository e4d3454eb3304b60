/// Who may read a run directory. Results, logs and scripts hold prompts and answers, so by
/// default only the owner: folders 0700, files 0600, scripts 0700. `share_with_group: true` adds
/// the owner's group, read-only: folders 2750 (setgid, so files made later keep the folder's
/// group), files 0640, scripts 0750. Never anyone else. `caravan submit` sets these modes; a file
/// or folder made in the run later takes its folder's (CaravanStorage's `RunFileModes`).
public struct RunPermissions: Sendable, Equatable {
  public var shareWithGroup: Bool

  public init(shareWithGroup: Bool = false) { self.shareWithGroup = shareWithGroup }

  public init(_ spec: JobSpec) { self.init(shareWithGroup: spec.shareWithGroup) }

  public var folder: UInt16 { shareWithGroup ? 0o2750 : 0o700 }
  public var file: UInt16 { shareWithGroup ? 0o640 : 0o600 }
  public var executable: UInt16 { shareWithGroup ? 0o750 : 0o700 }
}
