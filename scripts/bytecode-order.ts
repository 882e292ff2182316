// Records which bytecode a starting daemon runs (start, first /healthz, a few idle seconds) into packaging/bytecode-order.txt,
// which packaging/build.ts passes to --bytecode-order. Rerun after large changes: `bun scripts/bytecode-order.ts`.
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build, BYTECODE_ORDER } from "../packaging/build.ts";
import { homeEnv, tempHome } from "../tests/helpers/daemon.ts";

const home = tempHome("c2l-bytecode-order-");
try {
  const bin = join(home, "cloudtolocalllm-tunnel");
  await build({ outfile: bin, quiet: true, bytecodeOrder: false });
  const config = join(home, ".config/cloudtolocalllm/tunnel.toml");
  mkdirSync(join(home, ".config/cloudtolocalllm"), { recursive: true });
  // Ephemeral ports: this may run on a machine where the real daemon listens.
  writeFileSync(config, '[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9"\n');
  const out = join(home, "order.txt");
  const proc = Bun.spawn([bin, "serve"], { env: { ...homeEnv(home), BUN_BYTECODE_ORDER_OUT: out }, stdout: "ignore", stderr: "pipe" });
  let err = "";
  const dec = new TextDecoder();
  for await (const chunk of proc.stderr) {
    err += dec.decode(chunk, { stream: true });
    if (/daemon: started/.test(err)) break;
  }
  const api = /api: .*listening.* url=(\S+)/.exec(err)?.[1];
  if (!api) throw new Error(`the daemon did not start:\n${err}`);
  await (await fetch(`${api}/healthz`)).text();
  await Bun.sleep(5000); // what loads lazily after start-up (Swagger UI's module) belongs to the profile too
  proc.kill("SIGTERM");
  await proc.exited;
  const text = await Bun.file(out).text();
  writeFileSync(BYTECODE_ORDER, text);
  console.log(`wrote ${BYTECODE_ORDER} (${text.split("\n").length} lines, ${statSync(BYTECODE_ORDER).size} bytes)`);
} finally {
  rmSync(home, { recursive: true, force: true });
}
process.exit(0);
