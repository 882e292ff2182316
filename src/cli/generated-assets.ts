// The files generated from the command table, as install assets: the man page and the bash, zsh and fish completions.
import type { CommandEntry } from "./args.ts";
import type { Asset, AssetKind } from "../desktop/install/assets.ts";
import { BINARY_NAME } from "../desktop/install/installer.ts";
import { completionScript, SHELLS, type Shell } from "./completion-scripts.ts";
import { manPage } from "./man-page.ts";

/** Each shell's completion file: its kind (one directory per shell) and the name that shell looks for. */
const COMPLETIONS: Record<Shell, { kind: AssetKind; name: string }> = {
  bash: { kind: "completion-bash", name: BINARY_NAME },
  zsh: { kind: "completion-zsh", name: `_${BINARY_NAME}` },
  fish: { kind: "completion-fish", name: `${BINARY_NAME}.fish` },
};

/** The man page (dated `date`) and the completion scripts; packages and `install` place them by kind. */
export async function generatedAssets(commands: readonly CommandEntry[], version: string, date: Date): Promise<Asset[]> {
  const out: Asset[] = [{ kind: "man", name: `${BINARY_NAME}.1`, content: await manPage(commands, version, date) }];
  for (const shell of Object.keys(SHELLS) as Shell[]) out.push({ ...COMPLETIONS[shell], content: await completionScript(shell, commands) });
  return out;
}
