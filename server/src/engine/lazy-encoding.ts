/**
 * Socket.IO's in-memory broadcast encodes a packet, and the WebSocket frame its recipients share
 * (two buffers), before it looks for those recipients. A broadcast none of whose sockets is on
 * this node pays for that and throws it away: a user's presence change that no socket here
 * watches, sent to the cluster on every connect and disconnect, or a typing event in a room with
 * no other member here. Here a broadcast is encoded at its first recipient instead.
 *
 * The adapter's broadcasts (Adapter#broadcast, #broadcastWithAck) call `_encode(packet, options)`
 * and then, at once, `apply(opts, send)`, where `send` writes the encoded packets with `options`
 * to each recipient. `_encode` now hands back an empty list and keeps the packet; `apply` fills
 * the list (and `options`, where the encoder leaves the WebSocket frame) before the first `send`.
 */

/** The two steps of Socket.IO's in-memory adapter that every broadcast on a node runs through. */
export interface BroadcastSteps {
  _encode(packet: { data?: unknown[] }, options: unknown): unknown[];
  apply(opts: unknown, send: (socket: unknown) => void): void;
}

/** Makes `adapter` encode each broadcast only if it has a recipient on this node. */
export function encodeForRecipientsOnly(adapter: BroadcastSteps): void {
  const encode = adapter._encode.bind(adapter);
  const apply = adapter.apply.bind(adapter);
  let pending: { packet: { data?: unknown[] }; options: unknown; encoded: unknown[] } | undefined;
  adapter._encode = (packet, options) => {
    const encoded: unknown[] = [];
    pending = { packet, options, encoded };
    return encoded;
  };
  adapter.apply = (opts, send) => {
    const broadcast = pending;
    pending = undefined;
    if (!broadcast) return apply(opts, send);
    let encoded = false;
    apply(opts, (socket) => {
      if (!encoded) {
        encoded = true;
        broadcast.encoded.push(...encode(broadcast.packet, broadcast.options));
      }
      send(socket);
    });
  };
}
