// The one error for bytes that break the D-Bus specification: the connection that received them is closed with it.
export class DBusProtocolError extends Error {
  override name = "DBusProtocolError";
}
