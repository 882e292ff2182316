// Following who owns a bus name (a panel's StatusNotifierWatcher coming, going, restarting) through NameOwnerChanged.
import { BUS_NAME, BUS_PATH, type BusConnection } from "./connection.ts";

/**
 * Calls `onChange(newOwner)` each time `name` changes owner ("" when it is gone). The match rule names the name, so the
 * bus sends only its changes, not every client's comings and goings. Returns the stop.
 */
export async function watchNameOwner(bus: BusConnection, name: string, onChange: (owner: string) => void): Promise<() => void> {
  const rule = `type='signal',sender='${BUS_NAME}',path='${BUS_PATH}',interface='${BUS_NAME}',member='NameOwnerChanged',arg0='${name}'`;
  const off = bus.onSignal({ sender: BUS_NAME, interface: BUS_NAME, member: "NameOwnerChanged" }, ([changed, , owner]) => {
    if (changed === name) onChange(owner as string);
  });
  try {
    await bus.addMatch(rule);
  } catch (e) {
    off();
    throw e;
  }
  return () => {
    off();
    if (!bus.closed) void bus.removeMatch(rule).catch(() => {});
  };
}
