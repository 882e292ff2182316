// Baseline for bench/api.ts: a bare Bun.serve answering every request with the same static JSON bytes.
//   bun bench/lib/static-json-server.ts FILE
const body = await Bun.file(process.argv[2]!).bytes();
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: () => new Response(body, { headers: { "content-type": "application/json" } }),
});
console.log(`baseline: listening url=http://127.0.0.1:${server.port}`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
export {};
