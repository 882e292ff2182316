// relayText: a relay's words are shown, their terminal escapes are not obeyed.
import { expect, test } from "bun:test";
import { relayText } from "./relay-text.ts";

test("control characters (ESC, BEL, CR, LF, DEL, C1) are written out; other text, Unicode included, stays", () => {
  expect(relayText("\u001b]52;c;ZWNobw==\u0007 pwned\r\nnext\u007f\u009b")).toBe("\\u001b]52;c;ZWNobw==\\u0007 pwned\\u000d\\u000anext\\u007f\\u009b");
  expect(relayText('the relay is shutting down: "café" ✓')).toBe('the relay is shutting down: "café" ✓');
});
