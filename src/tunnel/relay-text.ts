// What the agent keeps of text a relay sent (close and GO_AWAY reasons, the tunnel id): it reaches status, the CLI, the
// tray and logs on a terminal, so its control characters (terminal escapes: colours, titles, OSC 52 clipboard writes)
// are shown as \uXXXX, never obeyed. The agent does not trust the relay.

/** C0 and C1 control characters (ESC among them) and DEL. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** `text` with each control character written out as \uXXXX. */
export function relayText(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
