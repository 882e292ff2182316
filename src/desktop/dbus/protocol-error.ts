// The one error for bytes that break the D-Bus specification: the connection that received them is closed with it.
import type { CodeOf } from "../../core/error-codes.ts";

export class DBusProtocolError extends Error {
  override name = "DBusProtocolError";
  readonly code: CodeOf<"DBusProtocolError"> = "dbus_malformed";
}
