// SASL for D-Bus: EXTERNAL with the uid in hex (the kernel vouches for it on a unix socket), and reading the bus's answer.

/** The client's first bytes: the NUL the protocol wants, then AUTH EXTERNAL with the uid's decimal digits in hex. */
export function authRequest(uid: number): string {
  return `\0AUTH EXTERNAL ${Buffer.from(String(uid), "ascii").toString("hex")}\r\n`;
}

export const BEGIN = "BEGIN\r\n";
/** A bus answers in one short line; a longer one is not a D-Bus server. */
export const MAX_AUTH_LINE = 16 * 1024;

export type AuthAnswer = { ok: true; guid: string } | { ok: false; error: string };

/** What one line from the server (without its CRLF) means for our EXTERNAL attempt. */
export function readAuthAnswer(line: string): AuthAnswer {
  const [command, ...rest] = line.split(" ");
  if (command === "OK" && rest.length >= 1 && /^[0-9a-f]{32}$/i.test(rest[0]!)) return { ok: true, guid: rest[0]! };
  if (command === "REJECTED") return { ok: false, error: `the bus refused EXTERNAL authentication for this uid (it offers: ${rest.join(" ") || "nothing"})` };
  if (command === "ERROR") return { ok: false, error: `the bus answered authentication with an error: ${rest.join(" ") || "(no text)"}` };
  return { ok: false, error: `the bus answered authentication with "${line.slice(0, 80)}", not OK` };
}
