// Where each D-Bus type starts: its alignment in bytes, from the start of the message (the body starts 8-aligned).
export const ALIGNMENT: Record<string, number> = { y: 1, b: 4, n: 2, q: 2, i: 4, u: 4, x: 8, t: 8, d: 8, h: 4, s: 4, o: 4, g: 1, v: 1, a: 4, "(": 8, "{": 8 };

/** The specification's largest array (64 MiB) and message (128 MiB). */
export const MAX_ARRAY_BYTES = 64 * 1024 * 1024;
export const MAX_MESSAGE_BYTES = 128 * 1024 * 1024;

/** An object path: "/" or "/"-separated non-empty elements of [A-Za-z0-9_]. */
export const OBJECT_PATH = /^\/$|^(\/[A-Za-z0-9_]+)+$/;
