// The calls this node has in flight at other nodes, by the node they wait on. A node that dies is noticed by its
// connections breaking; one that freezes (SIGSTOP, a paused VM, a network that drops instead of refusing) never breaks
// them, and its calls would wait forever. When such a node has stopped beating and does not answer a probe either, its
// calls are aborted: each answer is then resumed where the agent reconnected, or ends with its error line.

interface Hop {
  ac: AbortController;
}

export interface WatchedHop {
  /** The hop's fetch signal: the client's abort, or this watch's. */
  signal: AbortSignal;
  /** The hop is over (its answer ended, failed or was cancelled): no longer watched. */
  close(): void;
}

export class HopWatch {
  private readonly byNode = new Map<string, { url: string; hops: Set<Hop> }>();

  /** A hop to `node` (at `url`) starts. */
  open(node: string, url: string, client: AbortSignal): WatchedHop {
    let entry = this.byNode.get(node);
    if (!entry) this.byNode.set(node, (entry = { url, hops: new Set() }));
    entry.url = url;
    const hop: Hop = { ac: new AbortController() };
    entry.hops.add(hop);
    const hops = entry.hops;
    return {
      signal: AbortSignal.any([client, hop.ac.signal]),
      close: () => {
        hops.delete(hop);
        if (!hops.size && this.byNode.get(node)?.hops === hops) this.byNode.delete(node);
      },
    };
  }

  /** The nodes with calls in flight, and where they listen. */
  waitedOn(): { node: string; url: string; calls: number }[] {
    return [...this.byNode].map(([node, e]) => ({ node, url: e.url, calls: e.hops.size }));
  }

  /** Aborts every call in flight at `node` with `reason`; how many there were. */
  abort(node: string, reason: string): number {
    const e = this.byNode.get(node);
    if (!e) return 0;
    this.byNode.delete(node);
    for (const h of e.hops) h.ac.abort(new Error(reason));
    return e.hops.size;
  }
}
