// String formats the schema uses, registered with TypeBox so one validator checks them everywhere (the predicates are in format-checks.ts).
import { FormatRegistry } from "@sinclair/typebox";
import { FORMATS } from "./format-checks.ts";

export function registerFormats(): void {
  for (const [name, check] of Object.entries(FORMATS)) FormatRegistry.Set(name, check);
}
registerFormats();
