// Runs every benchmark one after another (never side by side: they would measure each other) and writes their tables into
// the README's Performance section.
//
//   bun bench/all.ts [--quick] [--only startup,api,broker,gateway,tunnel,relay-cluster,hot-paths,routing,dialects,footprint] [--readme-only]
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const ROOT = resolve(import.meta.dir, "..");
const BENCHES = ["startup", "api", "broker", "gateway", "tunnel", "relay-cluster", "hot-paths", "front-end", "broker-tail", "routing", "dialects", "footprint"] as const;
const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { quick: { type: "boolean" }, only: { type: "string" }, "readme-only": { type: "boolean" } },
});
const chosen = values.only ? values.only.split(",") : [...BENCHES];

if (!values["readme-only"]) {
  for (const b of chosen) {
    const args = [process.execPath, join(ROOT, "bench", `${b}.ts`), ...(values.quick && b !== "startup" ? ["--quick"] : [])];
    console.error(`== bench/${b}.ts`);
    const p = Bun.spawn(args, { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
    if ((await p.exited) !== 0) throw new Error(`bench/${b}.ts failed`);
  }
}

const TITLES: Record<string, string> = {
  startup: "Start-up and idle memory (`bench/startup.ts`)",
  api: "Control API status latency (`bench/api.ts`)",
  broker: "Broker vs direct vs nginx (`bench/broker.ts`)",
  gateway: "Gateway: keys, queue and fairness (`bench/gateway.ts`)",
  tunnel: "Tunnel vs direct (`bench/tunnel.ts`)",
  "relay-cluster": "Relay cluster: the forward hop and 1 vs 3 nodes (`bench/relay-cluster.ts`)",
  "hot-paths": "Hot paths against the best peers, pinned to one core (`bench/hot-paths.ts`; docs/performance.md)",
  "front-end": "The broker's HTTP front end: Bun.serve vs a raw-socket server (`bench/front-end.ts`; docs/performance.md)",
  "broker-tail": "The broker's tail at a fixed rate, with the GC log (`bench/broker-tail.ts`; docs/performance.md)",
  routing: "Load-aware routing vs priority and latency alone, upstreams of 1 and 4 slots (`bench/routing.ts`; docs/broker.md)",
  dialects: "Anthropic's Messages API: passed through vs translated, time to first token (`bench/dialects.ts`)",
  footprint: "Footprint: idle memory, memory under load and after it, the tail and idle CPU, beside their floors (`bench/footprint.ts`; docs/performance.md)",
  release: "Release artifacts (`bun run release`)",
};
const parts = [
  "## Performance",
  "",
  "Measured on the 2-core development machine by the committed harness: `bun bench/all.ts` runs each benchmark in turn",
  "(baseline and subject side by side in one run, medians) and rewrites this section. Each table also sits in `bench/results/`.",
];
for (const name of [...BENCHES, "release"]) {
  const file = join(ROOT, "bench/results", `${name}.md`);
  if (!existsSync(file)) continue;
  // Each results file opens with its own heading or caption line; demote headings under ours.
  const body = readFileSync(file, "utf8").trim().replace(/^#+ .*\n+/, "");
  parts.push("", `### ${TITLES[name]}`, "", body);
}
const readme = join(ROOT, "README.md");
const text = readFileSync(readme, "utf8");
const start = "<!-- section:performance -->";
const end = "<!-- /section:performance -->";
const a = text.indexOf(start);
const z = text.indexOf(end);
if (a < 0 || z < a) throw new Error("README.md has no performance section markers");
writeFileSync(readme, text.slice(0, a + start.length) + "\n" + parts.join("\n") + "\n" + text.slice(z));
console.error("README.md: Performance section rewritten");
