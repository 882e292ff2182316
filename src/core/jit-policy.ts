// Owns JavaScriptCore's JIT policy: reluctant from start-up until the first request, normal while serving, reluctant
// again once a quiet process has shrunk (idle-gc.ts).
//
// Start-up code (the config's TOML and checks, module set-up, the tray's first render) runs a few hundred times and
// then rarely or never again; at the normal policy the JIT compiles the busiest of it, and its code and the pages it
// touches stay in an idle process for good. At STARTUP_JIT_POLICY times the tier-up thresholds it stays in the
// interpreter (docs/performance.md, "Footprint"). The binary starts with it (packaging/build.ts,
// --compile-jit-policy); the first request a listener serves (noteActivity) sets the normal policy, so traffic is
// compiled as fast as ever.

/** The scale of the tier-up thresholds at start-up and while quiet (1 is the normal policy). */
export const STARTUP_JIT_POLICY = 10;

let reluctant = true;

/** A request is being served: the normal policy, from now until the next quiet shrink. */
export function jitServing(): void {
  if (!reluctant) return;
  reluctant = false;
  Bun.unsafe.setJITPolicy?.(1);
}

/** The process went quiet and dropped its compiled code: what runs while it stays quiet (timers, health checks) stays interpreted. */
export function jitQuiet(): void {
  reluctant = true;
  Bun.unsafe.setJITPolicy?.(STARTUP_JIT_POLICY);
}
