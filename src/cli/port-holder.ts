// Who holds a port `serve` could not take: on a machine several users share, each user's daemon wants 8765 and 11435,
// and "stop what holds the port" is not the fix when that is another user's daemon.
import { splitListen } from "../config/listen.ts";
import { loopbackListenerUids } from "../net/listener-owner.ts";

/** For a listen address already in use: the advice when another user's program holds it on loopback, else null (this user's, or unknown). */
export function otherUsersPort(listen: string, file: string, me = process.getuid?.()): string | null {
  const { port } = splitListen(listen);
  const uids = me === undefined ? null : loopbackListenerUids(port);
  if (!uids?.length || uids.includes(me!)) return null;
  return `another user (uid ${uids[0]}) holds port ${port}, their daemon perhaps: give this user's daemon ports of its own ([api] listen and [proxy] listen in ${file}) and point this user's apps at its [proxy] listen`;
}
