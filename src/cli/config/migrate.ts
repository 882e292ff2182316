// `config migrate [FILE]`: converts the 1.x/2.x app's ~/.cloudtolocalllm config into the new file; tokens go to the secret store.
import type { Config } from "../../config/schema.ts";
import type { SecretStore } from "../../core/contracts.ts";
import { applyMigration, findLegacy, markMigrated, planMigration, plaintextLeftBehind, renderMigration, type AppliedMigration } from "../../config/migrate.ts";
import type { ConfigStore } from "../../config/store.ts";
import { legacyDir } from "../../config/paths.ts";
import { parse, CliError, EXIT_USAGE, UsageError } from "../args.ts";
import type { Subcommand } from "../args.ts";
import { CONFIG_HELP, CONFIG_OPTION, printIssues, storeFor } from "./common.ts";
import { writeStderrLine } from "../../core/stderr-line.ts";

/** Migrates `files` into `store`, keeping legacy tokens in the secret store (opened here, closed after). */
export async function migrateInto(files: string[], store: ConfigStore): Promise<AppliedMigration> {
  const m = planMigration(files);
  let secrets: (SecretStore & { close?(): Promise<void> }) | null = null;
  if (m.secrets.length) {
    try {
      const { openSecretStore } = await import("../../secrets/open-secret-store.ts");
      secrets = await openSecretStore(m.config as Pick<Config, "secrets">);
    } catch {
      secrets = null; // applyMigration lists the tokens as not carried
    }
  }
  try {
    const applied = await applyMigration(m, store, secrets);
    if (applied.result.ok) markMigrated(store.file);
    return applied;
  } finally {
    await secrets?.close?.().catch(() => {});
  }
}

const command: Subcommand = {
  name: "config migrate",
  usage: "migrate [FILE]",
  help: `Usage: cloudtolocalllm-tunnel config migrate [FILE] [--dry-run] [--config FILE]

Converts the configuration of the CloudToLocalLLM 1.x tunnel manager (tunnel_config.json) and 2.x tray
daemon (connection_config.json) into the new config file. FILE names one of them; without it, both are read
from ~/.cloudtolocalllm/. Every field with a meaning now is carried; every other one is listed with the
reason. Plaintext tokens go to the secret store, never into the TOML. The old files are only read.
An existing config file is backed up before it is replaced.

Options:
  --dry-run           print the new config instead of writing it (tokens not stored)
${CONFIG_HELP}`,
  async run(argv) {
    const { values, positionals } = parse(argv, { ...CONFIG_OPTION, "dry-run": { type: "boolean" } });
    if (positionals.length > 1) throw new UsageError("expects at most one legacy FILE.");
    const files = positionals.length ? positionals : findLegacy();
    if (!files.length) throw new CliError(`no 1.x/2.x configuration found in ${legacyDir()} (tunnel_config.json, connection_config.json).`);
    let applied: AppliedMigration;
    const store = storeFor(values.config);
    try {
      if (values["dry-run"]) {
        const m = planMigration(files);
        process.stdout.write(renderMigration(m));
        for (const s of m.secrets) writeStderrLine(`would store ${s.from} as secret "${s.name}" (unless that secret already holds another value, which is kept)`);
        return 0;
      }
      applied = await migrateInto(files, store);
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    if (!applied.result.ok) {
      printIssues(applied.result.issues);
      return EXIT_USAGE;
    }
    const m = applied.migration;
    console.log(`migrated ${m.sources.join(" and ")} into ${store.file}${applied.result.backup ? ` (previous file saved as backup ${applied.result.backup.id})` : ""}`);
    console.log("carried:");
    for (const c of m.carried) console.log(`  ${c.from} → ${c.to}`);
    if (m.notCarried.length) {
      console.log("not carried:");
      for (const n of m.notCarried) console.log(`  ${n.field}: ${n.reason}`);
    }
    console.log("the old files were left as they were.");
    for (const note of plaintextLeftBehind(m, applied.storedSecrets)) console.log(`note: ${note}`);
    return 0;
  },
};
export default command;
