// Puts text on the desktop's clipboard through the first fitting tool (wl-copy on Wayland, xclip or xsel on X11).

/** The tools, in order of preference; each is used only inside the session it serves. */
const TOOLS: { bin: string; args: string[]; session: "WAYLAND_DISPLAY" | "DISPLAY" }[] = [
  { bin: "wl-copy", args: [], session: "WAYLAND_DISPLAY" },
  { bin: "xclip", args: ["-selection", "clipboard"], session: "DISPLAY" },
  { bin: "xsel", args: ["--clipboard", "--input"], session: "DISPLAY" },
];

/** Copies `text`; returns the tool that did, or null when none is installed for this session (the caller shows the text instead). */
export async function copyToClipboard(text: string, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  for (const t of TOOLS) {
    if (!env[t.session]) continue;
    const path = Bun.which(t.bin, { PATH: env.PATH ?? "" });
    if (!path) continue;
    // wl-copy and xclip stay in the background to serve the selection: wait for the hand-over, not for them to exit.
    const p = Bun.spawn([path, ...t.args], { stdin: "pipe", stdout: "ignore", stderr: "pipe", env });
    p.stdin.write(text);
    await p.stdin.end();
    const code = await Promise.race([p.exited, Bun.sleep(2000).then(() => 0)]);
    if (code === 0) return t.bin;
  }
  return null;
}
