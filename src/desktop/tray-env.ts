// The environment variable that keeps a daemon from showing its own tray icon (shared by the daemon and the `tray` command).

/**
 * Set to "never" in a daemon's environment, it keeps that daemon from showing a tray icon whatever `[tray] enabled`
 * says: the `tray` command sets it on the daemon its "Start daemon" spawns, as that command already shows the icon.
 */
export const TRAY_ENV = "CLOUDTOLOCALLLM_TRAY";
