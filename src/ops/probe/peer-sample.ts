/**
 * Which peers to probe when there are too many to probe all: a window of `limit` peers that moves by `limit`
 * every round (round-robin over the peers sorted by subnet), so at 5,000 peers and 16 per round every peer is
 * probed within 313 rounds, and the same round always picks the same peers (repeatable, testable). Peers named
 * in `always` (currently suspected or down) are probed every round on top of the window, so recovery and
 * confirmation do not wait for the window to come round. Pure.
 */
export function samplePeers<T>(peers: readonly T[], nameOf: (peer: T) => string, limit: number, round: number, always: ReadonlySet<string> = new Set()): T[] {
  // Each name once (a lease's subnet is formatted on every call): 5,000 peers sort in O(n log n) comparisons of strings.
  const named = peers.map((peer) => ({ peer, name: nameOf(peer) })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (named.length <= limit) return named.map(({ peer }) => peer);
  const start = (round * limit) % named.length;
  const window = [...named.slice(start, start + limit), ...named.slice(0, Math.max(0, start + limit - named.length))];
  const chosen = new Set(window.map(({ name }) => name));
  return [...window, ...named.filter(({ name }) => always.has(name) && !chosen.has(name))].map(({ peer }) => peer);
}
