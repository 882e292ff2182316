// Version compatibility between this daemon and a client (tray, CLI, relay, packages): semver major/minor rules in one place.
export type CompatLevel = "ok" | "warn" | "incompatible";

export interface Compatibility {
  compatible: boolean;
  level: CompatLevel;
  message: string;
}

interface SemVer {
  major: number;
  minor: number;
  patch: number;
}

/** Parses "3.1.2", "v3.1", "3.1.2-rc.1+abc"; null when it is not a version. */
export function parseVersion(v: string): SemVer | null {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+].*)?$/.exec(v.trim());
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2] ?? 0), patch: Number(m[3] ?? 0) };
}

/**
 * `ours` is this program's version, `theirs` the peer's. Different major: incompatible.
 * Same major, different minor: compatible with a warning (one side lacks features). Otherwise ok.
 */
export function compatibility(ours: string, theirs: string): Compatibility {
  const a = parseVersion(ours);
  const b = parseVersion(theirs);
  if (!a) return { compatible: false, level: "incompatible", message: `"${ours}" is not a version number` };
  if (!b) return { compatible: false, level: "incompatible", message: `"${theirs}" is not a version number` };
  if (a.major !== b.major)
    return {
      compatible: false,
      level: "incompatible",
      message: `version ${theirs} is not compatible with ${ours}: the major versions differ (${b.major} vs ${a.major}); update the older one`,
    };
  if (a.minor !== b.minor) {
    const older = a.minor < b.minor ? ours : theirs;
    return {
      compatible: true,
      level: "warn",
      message: `version ${theirs} works with ${ours}, but ${older} is older and lacks some features; consider updating it`,
    };
  }
  return { compatible: true, level: "ok", message: `version ${theirs} is compatible with ${ours}` };
}
