// What a gateway key and its name look like, without the shared `t` schemas: the relay and the broker read these at start-up, and contracts.ts (which loads TypeBox) re-exports them.
/** How a gateway key starts (c2l_ + 43 base64url characters): the gateway finds keys by it, the broker never forwards one. */
export const KEY_PREFIX = "c2l_";

/** Characters a key is made of after its prefix (base64url): a `c2l_` token ends at the first other character. */
export const isKeyChar = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d;

/** What a gateway key name may be: safe in a URL path, a label and a log line. */
export const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
