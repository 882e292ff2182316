// Which process holds a file open for writing (Linux /proc), so the config watch can wait for a slow writer to finish.
import { readFileSync, readdirSync, statSync } from "node:fs";

/** O_ACCMODE in the octal `flags:` line of /proc/PID/fdinfo/FD: 1 O_WRONLY, 2 O_RDWR. */
const ACCESS_MODE = 3;

/**
 * The pid of a process (other than this one) that has `file` open for writing, or null when none does or this cannot
 * be told (no /proc; another user's processes are not visible). A file is compared by device and inode, so a writer
 * that opened it through a link, or before a rename, is found too. Costs a stat per open file descriptor on the
 * machine: it runs once per settled config change, never per request.
 */
export function openWriter(file: string): number | null {
  let target;
  let pids: string[];
  try {
    target = statSync(file);
    pids = readdirSync("/proc");
  } catch {
    return null;
  }
  for (const pid of pids) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const s = statSync(`/proc/${pid}/fd/${fd}`);
        if (s.ino !== target.ino || s.dev !== target.dev) continue;
        const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"))?.[1];
        if (flags && (parseInt(flags, 8) & ACCESS_MODE) !== 0) return Number(pid);
      } catch {}
    }
  }
  return null;
}
