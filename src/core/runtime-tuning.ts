// The JavaScriptCore settings the long-running processes (daemon, tray, relay) are meant to run with. JSC reads them
// from the environment once, before any of our code runs, so whatever starts a process sets them: the systemd units,
// `npm start`, the tests and the benchmarks (each checked against this table by tests/packaging/systemd-units.test.ts).
export const RUNTIME_ENV = {
  // One GC marking thread instead of one per core: on a desktop the daemon shares its cores with the model and the
  // user's apps, and parallel markers contending for a busy core cost far more than they save (bench/hot-paths.ts:
  // about a third less CPU per request and a lower tail; docs/performance.md).
  BUN_JSC_numberOfGCMarkers: "1",
} as const;
