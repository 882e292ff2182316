// Every command's --help: an option its Options list offers is in its Usage line too (a reader of the Usage line alone
// must not conclude the option is not there).
import { expect, test } from "bun:test";
import { COMMANDS } from "./commands.ts";

/** The Usage lines (up to the first blank line) and the long options listed under the Options headings. */
function parts(help: string): { usage: string; options: string[] } {
  const lines = help.split("\n");
  const end = lines.findIndex((l) => l.trim() === "");
  const usage = lines.slice(0, end === -1 ? lines.length : end).join("\n");
  const options: string[] = [];
  let inOptions = false;
  for (const l of lines) {
    if (/^Options\b/.test(l)) inOptions = true;
    else if (l.trim() === "" || /^\S/.test(l)) inOptions = inOptions && l.trim() === "";
    const m = inOptions ? /^\s+(?:-\w, )?(--[a-z][\w-]*)/.exec(l) : null;
    if (m) options.push(m[1]!);
  }
  return { usage, options };
}

test("each command's Usage line names every option its --help lists", async () => {
  const missing: string[] = [];
  let checked = 0;
  for (const entry of COMMANDS) {
    const { usage, options } = parts((await entry.load()).default.help);
    for (const o of options) {
      checked++;
      if (!usage.includes(o)) missing.push(`${entry.name}: ${o}`);
    }
  }
  expect(checked).toBeGreaterThan(20);
  // Before: login, logout and whoami listed --url (they take it) but their Usage lines did not.
  expect(missing).toEqual([]);
});
