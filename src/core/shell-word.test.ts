// The shell reads each printed word back as the path it was made from.
import { expect, test } from "bun:test";
import { shellWord } from "./shell-word.ts";

test("a path with a space, quotes, $, ~ or non-ASCII letters is one shell word that sh reads back unchanged; a plain one is left as it is", () => {
  for (const p of ["/home/José Müller/.config", "/home/o'brien/x", '/tmp/a "b" $HOME `id` *', "~/x", "/plain/path-1.2:3"]) {
    const r = Bun.spawnSync(["sh", "-c", `printf '%s' ${shellWord(p)}`], { stdout: "pipe" });
    expect(r.stdout.toString()).toBe(p);
  }
  expect(shellWord("/home/ada/.config/cloudtolocalllm")).toBe("/home/ada/.config/cloudtolocalllm");
});

test("the chown the CLI prints for another user's file in a home with a space gives back that file, not two others", async () => {
  const { fileAtStart } = await import("../cli/args.ts");
  const e = Object.assign(new Error("EACCES"), { code: "EACCES", path: "/home/José Müller/.config/cloudtolocalllm/api-token" });
  expect(fileAtStart(e, {})).toContain(`\`sudo chown "$(id -un)": '/home/José Müller/.config/cloudtolocalllm/api-token'\``);
});
