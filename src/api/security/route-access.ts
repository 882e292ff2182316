// What the route a request matched asks for, read from that route's own declaration (`detail.security`), never from its path.
import { accessOf, type Access } from "./policy.ts";

export interface RouteLike {
  method: string;
  path: string;
  hooks?: { detail?: { security?: unknown }; body?: { type?: unknown; anyOf?: { type?: unknown }[] } } | null;
}

/**
 * Looks up the matched route (method + the route's pattern, as the router reports it) in the app's route list.
 * The list grows after start-up (the docs module loads lazily), so the table is rebuilt whenever the list changes.
 */
export class RouteAccess {
  private table = new Map<string, Access>();
  private seen: readonly RouteLike[] | null = null;
  private seenLength = -1;

  constructor(private readonly routes: () => readonly RouteLike[]) {}

  of(method: string, route: string | undefined): Access {
    const list = this.routes();
    if (list !== this.seen || list.length !== this.seenLength) this.rebuild(list);
    // HEAD is answered by the GET route; a WebSocket upgrade is a GET of a WS route.
    const m = method.toUpperCase() === "HEAD" ? "GET" : method.toUpperCase();
    // A route the table does not know (which the router should never report) gets the default protection.
    return this.table.get(`${m} ${route}`) ?? this.table.get(`ALL ${route}`) ?? "token_or_session";
  }

  private rebuild(list: readonly RouteLike[]): void {
    const table = new Map<string, Access>();
    // A later registration of the same method and path is the one that answers, so it also decides here.
    for (const r of list) table.set(`${r.method === "WS" ? "GET" : r.method} ${r.path}`, accessOf(r.hooks?.detail?.security));
    this.table = table;
    this.seen = list;
    this.seenLength = list.length;
  }
}
