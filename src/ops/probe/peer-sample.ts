/**
 * Which peers to probe when there are too many to probe all: a window of `limit` peers that moves by `limit`
 * every round (round-robin over the peers sorted by subnet), so at 5,000 peers and 16 per round every peer is
 * probed within 313 rounds, and the same round always picks the same peers (repeatable, testable). Peers named
 * in `always` (currently suspected or down) are probed every round on top of the window, so recovery and
 * confirmation do not wait for the window to come round. Pure.
 */
export function samplePeers<T>(peers: readonly T[], nameOf: (peer: T) => string, limit: number, round: number, always: ReadonlySet<string> = new Set()): T[] {
  const sorted = [...peers].sort((a, b) => (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0));
  if (sorted.length <= limit) return sorted;
  const start = (round * limit) % sorted.length;
  const window = [...sorted.slice(start, start + limit), ...sorted.slice(0, Math.max(0, start + limit - sorted.length))];
  const chosen = new Set(window.map(nameOf));
  return [...window, ...sorted.filter((peer) => always.has(nameOf(peer)) && !chosen.has(nameOf(peer)))];
}
