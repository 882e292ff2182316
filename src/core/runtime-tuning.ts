// The JavaScriptCore settings the long-running processes (daemon, tray, relay) are meant to run with. JSC reads them
// from the environment once, before any of our code runs, so whatever starts a process sets them: the systemd units,
// `npm start`, the tests and the benchmarks (each checked against this table by tests/packaging/systemd-units.test.ts).
export const RUNTIME_ENV = {
  // One GC marking thread instead of one per core: on a desktop the daemon shares its cores with the model and the
  // user's apps, and parallel markers contending for a busy core cost far more than they save (bench/hot-paths.ts:
  // about a third less CPU per request and a lower tail; docs/performance.md).
  BUN_JSC_numberOfGCMarkers: "1",
  // Bun keeps a name's addresses 30 s, and a WebSocket connect that fails does not drop them: after a DNS failover the
  // agent would dial the dead relay node for up to 30 s more. Read by Bun once at start, like the setting above; 5 s
  // still shares one lookup between the requests of a burst (tests/tunnel/relay-dns-failover.test.ts).
  BUN_CONFIG_DNS_TIME_TO_LIVE_SECONDS: "5",
} as const;
