// Runs the CLI as a process for the API tests; async, because fake upstreams in the test process must keep answering meanwhile.
import { join } from "node:path";
import { BUN, REPO } from "../helpers/daemon.ts";

export async function runCli(env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([BUN, join(REPO, "src/main.ts"), ...args], { env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}
