// Version information and the compatibility verdict for a client that sends its own version.
import { API_VERSION, BUILD_DATE, COMMIT, PROTOCOL_VERSION, VERSION } from "../../../core/build-info.ts";
import { compatibility, type Compatibility } from "../../../core/compat.ts";

export function versionInfo(client?: string) {
  return {
    version: VERSION,
    commit: COMMIT,
    buildDate: BUILD_DATE,
    protocolVersion: PROTOCOL_VERSION,
    apiVersion: API_VERSION,
    bun: Bun.version,
    ...(client ? { client: { version: client, ...compatibility(VERSION, client) } } : {}),
  } as {
    version: string;
    commit: string;
    buildDate: string;
    protocolVersion: number;
    apiVersion: string;
    bun: string;
    client?: { version: string } & Compatibility;
  };
}
