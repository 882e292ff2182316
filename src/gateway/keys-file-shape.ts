// The keys file's shape in TypeBox: the source of its generated check (keys-file-check.generated.ts) and, loaded only for a file that fails it, of the message naming what is wrong.
import { Value } from "@sinclair/typebox/value";
import { t } from "elysia/type-system";
import { KeyRecord } from "../core/contracts.ts";

export const KeysFileShape = t.Object({ version: t.Literal(1), keys: t.Array(KeyRecord) });

/** The first thing wrong with a keys file, as "path: message" ("wrong shape" when TypeBox names nothing); null when it is a keys file. */
export function keysFileProblem(data: unknown): string | null {
  if (Value.Check(KeysFileShape, data)) return null;
  const first = [...Value.Errors(KeysFileShape, data)][0];
  return first ? `${first.path || "/"}: ${first.message}` : "wrong shape";
}
