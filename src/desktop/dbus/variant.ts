// The values of the D-Bus type system JavaScript has no type for: a variant (a value with its signature) and a D-Bus error reply.
import type { CodeOf } from "../../core/error-codes.ts";

/** A value together with its D-Bus signature ("v" in a signature). */
export class Variant<T = unknown> {
  constructor(
    readonly signature: string,
    readonly value: T,
  ) {}
}

/** An error reply: `type` is the D-Bus error name (org.freedesktop.DBus.Error.ServiceUnknown, …), the message its text. */
export class DBusError extends Error {
  override name = "DBusError";
  readonly code: CodeOf<"DBusError"> = "dbus_error";
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}
