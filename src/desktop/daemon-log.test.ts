// The tray-started daemon's log file: appended to, private, and moved aside once past its bound so it cannot grow without end.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, closeSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeDaemonLog, openDaemonLog } from "./daemon-log.ts";

const dir = mkdtempSync(join(tmpdir(), "c2l-daemon-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("opened in a new private directory with mode 0600, and appended to across starts", () => {
  const file = join(dir, "state/cloudtolocalllm/daemon.log");
  for (const line of ["first\n", "second\n"]) {
    const { fd } = openDaemonLog(file, 100);
    writeSync(fd, line);
    closeDaemonLog(fd);
  }
  expect(readFileSync(file, "utf8")).toBe("first\nsecond\n");
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(statSync(join(dir, "state/cloudtolocalllm")).mode & 0o777).toBe(0o700);
});

test("past the bound at a start, the old log becomes daemon.log.1 (replacing the older one) and a new one begins", () => {
  const file = join(dir, "bounded.log");
  writeFileSync(file + ".1", "oldest");
  writeFileSync(file, "x".repeat(101));
  const { fd } = openDaemonLog(file, 100);
  writeSync(fd, "new\n");
  closeSync(fd);
  expect(readFileSync(file, "utf8")).toBe("new\n");
  expect(readFileSync(file + ".1", "utf8")).toBe("x".repeat(101));
  expect(existsSync(file)).toBe(true);
});

test("a log (and its older one) left readable by others is made 0600 at the next start, its lines kept", () => {
  const file = join(dir, "wide.log");
  writeFileSync(file, "before\n");
  writeFileSync(file + ".1", "older\n");
  chmodSync(file, 0o644);
  chmodSync(file + ".1", 0o644);
  const { fd } = openDaemonLog(file, 100);
  writeSync(fd, "after\n");
  closeDaemonLog(fd);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(statSync(file + ".1").mode & 0o777).toBe(0o600);
  expect(readFileSync(file, "utf8")).toBe("before\nafter\n");
});
