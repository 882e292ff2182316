// The note `login` prints when the running daemon could not be told names what really makes it take the sign-in up.
import { expect, test } from "bun:test";
import { notToldNote } from "./login.ts";
import { UNIT } from "../desktop/systemd-user.ts";

test("the not-told note advises a restart (or the next refresh), never `reload`, which does not re-read the sign-in", () => {
  const note = notToldNote("HTTP 503: the sign-in service is not running");
  expect(note).toContain("(HTTP 503: the sign-in service is not running)");
  expect(note).toContain(`systemctl --user restart ${UNIT}`);
  expect(note).toContain("next token refresh");
  expect(note).not.toContain("tunnel reload");
});
