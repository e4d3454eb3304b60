/// Who may read a run directory. Results, logs and scripts hold prompts and answers, so by
/// default only the owner: folders 0700, files 0600, scripts 0700. `share_with_group: true` adds
/// the owner's group, read-only: folders 2750 (setgid, so files made later keep the folder's
/// group), files 0640, scripts 0750. Never anyone else.
public struct RunPermissions: Sendable, Equatable {
  public var shareWithGroup: Bool

  public init(shareWithGroup: Bool = false) { self.shareWithGroup = shareWithGroup }

  public init(_ spec: JobSpec) { self.init(shareWithGroup: spec.shareWithGroup) }

  public var folder: UInt16 { shareWithGroup ? 0o2750 : 0o700 }
  public var file: UInt16 { shareWithGroup ? 0o640 : 0o600 }
  public var executable: UInt16 { shareWithGroup ? 0o750 : 0o700 }
  /// The file-creation mask every process that writes into the run uses (caravan itself, the job
  /// script, the worker, its servers, and slurmstepd's log through SLURM_UMASK), whatever the
  /// user's own umask is.
  public var umask: UInt16 { shareWithGroup ? 0o027 : 0o077 }
  /// `umask` as the job script and SLURM_UMASK write it.
  public var umaskText: String { "0" + String(umask, radix: 8).leftPadded(to: 3) }
}

extension String {
  fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
