// `ssh -R` as the tunnel baseline: Debian's sshd on a loopback port with a throwaway host key and client key (its own
// config, no PAM, nothing else of the machine's), and an ssh client forwarding a port on the sshd side to a target.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "./proc.ts";

export interface SshTunnel {
  /** Where clients connect (the sshd side's forwarded port). */
  url: string;
  sshd: Subprocess;
  ssh: Subprocess;
  stop(): Promise<void>;
}

function run(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
}

/** Forwards 127.0.0.1:<new port> (sshd side) to `target` (host:port) through an ssh connection over loopback. */
export async function startSshTunnel(target: string): Promise<SshTunnel> {
  const dir = mkdtempSync(join(tmpdir(), "c2l-ssh-"));
  // sshd's privilege separation directory.
  mkdirSync("/run/sshd", { recursive: true });
  run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_key")]);
  run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", join(dir, "client_key")]);
  await Bun.write(join(dir, "authorized_keys"), Bun.file(join(dir, "client_key.pub")));
  const sshPort = await freePort();
  const fwdPort = await freePort();
  writeFileSync(
    join(dir, "sshd_config"),
    [
      `ListenAddress 127.0.0.1:${sshPort}`,
      `HostKey ${join(dir, "host_key")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "StrictModes no",
      "UsePAM no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin yes",
      "AllowTcpForwarding yes",
      "GatewayPorts no",
      "LogLevel ERROR",
    ].join("\n") + "\n",
  );
  writeFileSync(join(dir, "known_hosts"), "");
  const sshd = Bun.spawn(["/usr/sbin/sshd", "-D", "-e", "-f", join(dir, "sshd_config")], { stdout: "ignore", stderr: "pipe" });
  await Bun.sleep(300);
  const user = process.env.USER || (process.getuid?.() === 0 ? "root" : "nobody");
  const ssh = Bun.spawn(
    [
      "ssh", "-N", "-T", "-p", String(sshPort), "-i", join(dir, "client_key"),
      "-o", "StrictHostKeyChecking=no", "-o", `UserKnownHostsFile=${join(dir, "known_hosts")}`, "-o", "BatchMode=yes",
      "-o", "ExitOnForwardFailure=yes", "-o", "Compression=no", "-o", "LogLevel=ERROR",
      "-R", `127.0.0.1:${fwdPort}:${target}`, `${user}@127.0.0.1`,
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  const url = `http://127.0.0.1:${fwdPort}`;
  const t0 = performance.now();
  for (;;) {
    try {
      await (await fetch(`${url}/api/version`)).arrayBuffer();
      break;
    } catch {}
    if (ssh.exitCode !== null || sshd.exitCode !== null) throw new Error(`ssh -R did not come up: ${await new Response(ssh.stderr).text()} ${await new Response(sshd.stderr).text()}`);
    if (performance.now() - t0 > 10_000) throw new Error("ssh -R did not come up within 10 s");
    await Bun.sleep(50);
  }
  return {
    url,
    sshd,
    ssh,
    async stop() {
      ssh.kill();
      sshd.kill();
      await Promise.all([ssh.exited, sshd.exited]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
