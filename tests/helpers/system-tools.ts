// The one table of system tools the tests (and benchmarks) run as real parts, each with the Debian package that provides it.
// tests/helpers/requires.ts skips or fails a test by it; .ci/run installs exactly these packages (it asks this file for them).

export interface SystemTool {
  /** Debian package that installs the tool (`apt-get install <package>`). */
  package: string;
  /** What uses it, for the reader of a skip message. */
  usedFor: string;
}

export const SYSTEM_TOOLS = {
  chromium: { package: "chromium", usedFor: "the dashboard and Swagger UI in a real browser (playwright-core drives it)" },
  curl: { package: "curl", usedFor: "running the dashboard's Copy as curl command as copied" },
  jq: { package: "jq", usedFor: "running the docs' `curl … | jq` examples as written" },
  promtool: { package: "prometheus", usedFor: "checking /metrics with Prometheus' own parser" },
  "dbus-daemon": { package: "dbus", usedFor: "a private session bus for the tray, notifications and keyring tests" },
  gdbus: { package: "libglib2.0-bin", usedFor: "calling the tray's D-Bus objects as another client would" },
  gio: { package: "libglib2.0-bin", usedFor: "launching the desktop entries as a GLib desktop does (its Exec parsing)" },
  "notify-send": { package: "libnotify-bin", usedFor: "desktop notifications (node-notifier runs it)" },
  "gnome-keyring-daemon": { package: "gnome-keyring", usedFor: "the Secret Service (desktop keyring)" },
  "secret-tool": { package: "libsecret-tools", usedFor: "reading and writing keyring items as another client" },
  Xvfb: { package: "xvfb", usedFor: "a virtual X display for the tray in a real panel" },
  "xfce4-panel": { package: "xfce4-panel", usedFor: "a real panel that draws the tray icon" },
  xdotool: { package: "xdotool", usedFor: "pointing at the tray icon in the panel, so it shows its tooltip" },
  import: { package: "imagemagick", usedFor: "screenshots of the panel" },
  convert: { package: "imagemagick", usedFor: "decoding PNGs and screenshots to pixels" },
  identify: { package: "imagemagick", usedFor: "reading PNG headers" },
  "systemd-analyze": { package: "systemd", usedFor: "systemd-analyze verify on the units" },
  systemctl: { package: "systemd", usedFor: "install's systemd step (without a user manager it must say so)" },
  "systemd-run": { package: "systemd", usedFor: "the daemon as a transient unit with its unit's settings: systemd's restart brings it (and its tray icon) back" },
  appstreamcli: { package: "appstream", usedFor: "validating the AppStream metainfo" },
  "desktop-file-validate": { package: "desktop-file-utils", usedFor: "validating the desktop entries (one main category, known keys)" },
  man: { package: "man-db", usedFor: "rendering the man page as `man` shows it, in the C locale too" },
  zsh: { package: "zsh", usedFor: "checking the zsh completion script (zsh -n)" },
  fish: { package: "fish", usedFor: "checking the fish completion script (fish -n) and what it offers" },
  makepkg: { package: "makepkg", usedFor: "building the AUR package" },
  pacman: { package: "pacman-package-manager", usedFor: "reading the built AUR package" },
  fakeroot: { package: "fakeroot", usedFor: "makepkg's packaging step as an unprivileged user" },
  bsdtar: { package: "libarchive-tools", usedFor: "makepkg (unpacking sources, packing) and reading the package" },
  lintian: { package: "lintian", usedFor: "linting the .deb" },
  "dpkg-deb": { package: "dpkg", usedFor: "building and reading the .deb" },
  dpkg: { package: "dpkg", usedFor: "installing, upgrading, removing and purging the .deb in a scratch root" },
  "deb-systemd-invoke": { package: "init-system-helpers", usedFor: "the .deb's maintainer scripts restarting and stopping the units" },
  openssl: { package: "openssl", usedFor: "a private CA and certificate for the TLS relay" },
  git: { package: "git", usedFor: "checking the commit the binary says it was built from" },
  script: { package: "bsdutils", usedFor: "running the daemon under a pseudo-terminal (its terminal log format)" },
  setpriv: { package: "util-linux", usedFor: "a program run as another user (uid 65534): a browser reaching the daemon, one taking the control API's port" },
  unshare: { package: "util-linux", usedFor: "a private network namespace, to use the default ports" },
  ip: { package: "iproute2", usedFor: "bringing up loopback in the private network namespace" },
  tc: { package: "iproute2", usedFor: "a rate-limited link (tbf) between two network namespaces" },
  nsenter: { package: "util-linux", usedFor: "starting processes in the second network namespace of a test" },
  mount: { package: "mount", usedFor: "a tiny full tmpfs in a private mount namespace (disk-full tests)" },
  "redis-server": { package: "redis-server", usedFor: "the Redis the relay cluster's nodes share (Debian's, 7.0)" },
  nginx: { package: "nginx", usedFor: "the reverse-proxy baseline in bench/broker.ts; checking the relay cluster's nginx example" },
  haproxy: { package: "haproxy", usedFor: "the load balancer in front of the relay cluster's nodes" },
  wrk: { package: "wrk", usedFor: "the load generator in bench/" },
  caddy: { package: "caddy", usedFor: "a reverse-proxy peer in bench/hot-paths.ts" },
  sshd: { package: "openssh-server", usedFor: "the `ssh -R` baseline in bench/hot-paths.ts" },
  taskset: { package: "util-linux", usedFor: "pinning the subject to one CPU in bench/hot-paths.ts" },
} as const satisfies Record<string, SystemTool>;

export type ToolName = keyof typeof SYSTEM_TOOLS;

/** Every Debian package in the table, once each, sorted. */
export function aptPackages(): string[] {
  return [...new Set(Object.values(SYSTEM_TOOLS).map((t) => t.package))].sort();
}

/** The command that installs the packages for `tools` (run it as root, e.g. with sudo). */
export function aptInstallLine(tools: readonly ToolName[]): string {
  return `apt-get install ${[...new Set(tools.map((t) => SYSTEM_TOOLS[t].package))].sort().join(" ")}`;
}

// `bun tests/helpers/system-tools.ts --apt-packages` prints the packages one a line (.ci/run installs them).
if (import.meta.main) {
  if (process.argv[2] !== "--apt-packages") {
    console.error("usage: bun tests/helpers/system-tools.ts --apt-packages");
    process.exit(2);
  }
  console.log(aptPackages().join("\n"));
}
