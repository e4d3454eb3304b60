/// Paths in a spec are relative to the spec file's folder. The job runs in its run directory
/// on another machine, so `caravan submit` writes every one of them absolute into the run.
extension JobSpec {
  /// The spec with prompts, output, container.image, engine.models_dir and the host side of
  /// container.binds made absolute against `folder` (itself absolute). Pure: no file is read.
  public func resolvingPaths(against folder: String) -> JobSpec {
    var spec = self
    spec.prompts = PathText.absolute(prompts, against: folder)
    spec.output = PathText.absolute(output, against: folder)
    spec.engine.modelsDir = engine.modelsDir.map { PathText.absolute($0, against: folder) }
    // docker://, library://, oras:// ... name images in a registry, not files.
    if let image = container.image, !image.contains("://") {
      spec.container.image = PathText.absolute(image, against: folder)
    }
    spec.container.binds = container.binds.map { bind in
      // `src[:dest[:opts]]`: only the host side is a path on this machine.
      let parts = bind.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
      let source = PathText.absolute(String(parts[0]), against: folder)
      return parts.count > 1 ? source + ":" + parts[1] : source
    }
    return spec
  }
}

/// Path arithmetic on text, without asking the file system (no cwd, no symlinks).
public enum PathText {
  /// `path` if absolute, else `folder/path`; `.` and `..` segments and doubled slashes removed.
  public static func absolute(_ path: String, against folder: String) -> String {
    normalized(path.hasPrefix("/") ? path : folder + "/" + path)
  }

  /// `/a/./b/../c//d` -> `/a/c/d`. `..` never climbs above `/`.
  public static func normalized(_ path: String) -> String {
    var parts: [Substring] = []
    for part in path.split(separator: "/") {
      switch part {
      case ".": continue
      case "..": _ = parts.popLast()
      default: parts.append(part)
      }
    }
    return "/" + parts.joined(separator: "/")
  }

  /// The folder of `path` (`/a/b/c.yaml` -> `/a/b`).
  public static func folder(of path: String) -> String {
    let normalized = normalized(path)
    guard let slash = normalized.lastIndex(of: "/"), slash != normalized.startIndex else { return "/" }
    return String(normalized[..<slash])
  }
}
