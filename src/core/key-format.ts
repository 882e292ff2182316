// What a gateway key and its name look like, without the shared `t` schemas: the relay and the broker read these at start-up, and contracts.ts (which loads TypeBox) re-exports them.
/** How a gateway key starts (c2l_ + 43 base64url characters): the gateway finds keys by it, the broker never forwards one. */
export const KEY_PREFIX = "c2l_";

/** What a gateway key name may be: safe in a URL path, a label and a log line. */
export const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
