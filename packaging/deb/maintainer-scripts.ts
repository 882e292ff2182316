// The .deb's maintainer scripts: an upgrade restarts the daemons in use onto the new binary, removal stops them first.
const USER_UNIT = "cloudtolocalllm-tunnel.service";
const RELAY_UNIT = "cloudtolocalllm-relay.service";
/** The separate tray of versions before the daemon showed its own icon: its file goes with the old package, not its process. */
const OLD_TRAY_UNIT = "cloudtolocalllm-tunnel-tray.service";

// Only on a machine booted with systemd, and never for an install into another root (DPKG_ROOT: an image being built,
// whose services are not this machine's), as in debhelper's snippets. deb-systemd-invoke (init-system-helpers) asks
// policy-rc.d first and, with --user (>= 1.64), acts in every running user manager, as dh_installsystemduser does.
const ACTIVE = `[ -z "\${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]`;
const INVOKE = "command -v deb-systemd-invoke >/dev/null";

// `deb-systemd-invoke --user daemon-reload` reloads the system manager instead (1.65): each user manager by itself.
const RELOAD_USERS = `# Every running user manager re-reads its unit files.
reload_users() {
	for uid in $(systemctl --no-legend --quiet list-units 'user@*.service' 2>/dev/null | sed -n 's/.*user@\\([0-9][0-9]*\\)\\.service.*/\\1/p'); do
		systemctl --quiet --user --machine "$uid@" daemon-reload >/dev/null 2>&1 || true
	done
}`;

/**
 * configure. After an upgrade ($2: the version replaced) the relay and each user's daemon are restarted onto the new
 * binary where they run or are enabled (deb-systemd-invoke restart); a unit neither running nor enabled is not started.
 * A tray unit of a version before the daemon's own icon, still running, is stopped: the old code in it never steps
 * aside, so the restarted daemon's icon would be the second one until the user logs out.
 */
export const POSTINST = `#!/bin/sh
set -e
${RELOAD_USERS}
if [ "$1" = "configure" ] && ${ACTIVE}; then
	systemctl --system daemon-reload >/dev/null || true
	reload_users
	if [ -n "$2" ] && ${INVOKE}; then
		deb-systemd-invoke restart ${RELAY_UNIT} >/dev/null 2>&1 || true
		deb-systemd-invoke --user stop ${OLD_TRAY_UNIT} >/dev/null 2>&1 || true
		deb-systemd-invoke --user restart ${USER_UNIT} >/dev/null 2>&1 || true
	fi
fi
`;

/** remove (not upgrade): the binary is about to go, so no daemon or relay is left running a deleted file or restarting into nothing. */
export const PRERM = `#!/bin/sh
set -e
if [ "$1" = "remove" ] && ${ACTIVE} && ${INVOKE}; then
	deb-systemd-invoke --user stop ${USER_UNIT} >/dev/null 2>&1 || true
	deb-systemd-invoke stop ${RELAY_UNIT} >/dev/null 2>&1 || true
fi
`;

/** The managers forget the removed unit files. Nothing in a user's home (config, keys, tokens, usage) is touched, not even on purge. */
export const POSTRM = `#!/bin/sh
set -e
${RELOAD_USERS}
if { [ "$1" = "remove" ] || [ "$1" = "purge" ]; } && ${ACTIVE}; then
	systemctl --system daemon-reload >/dev/null || true
	reload_users
fi
`;
