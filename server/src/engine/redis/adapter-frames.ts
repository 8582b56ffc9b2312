/**
 * How this node reads the sharded adapter's frames (store/src/frames.ts) before the adapter does:
 * its own frames are dropped unparsed, and a broadcast in the cluster's own layout reaches the
 * node's sockets as the text it came in. The adapter alone would parse every frame's packet and
 * encode it again for its sockets, once per node per message; here the packet's arguments are
 * taken as they are, and parsed only if something on this node reads them (an outgoing-packet
 * listener). The adapter still makes the one WebSocket frame all the node's recipients share.
 */
import type { createShardedAdapter } from "@socket.io/redis-adapter";
import { readEventFrame } from "@switchboard/store";
import { broadcastText, encodingAlsoEncoded, type Encoder } from "../encoded-packets";

type ShardedAdapter = ReturnType<ReturnType<typeof createShardedAdapter>>;
type AdapterFactory = (nsp: unknown) => ShardedAdapter;

/** The parts of the sharded adapter this reads and replaces. */
interface AdapterInternals {
  uid: string;
  nsp: { name: string };
  encoder: Encoder;
  onRawMessage(raw: Buffer | string, channel: Buffer | string): void;
}

/**
 * A frame this node's stores published (JSON that begins with its uid) comes back on every room
 * channel the node subscribes; its sockets already had it (Delivery.local), so it is dropped
 * before it is parsed, as the adapter would drop it after. A broadcast frame in the cluster's
 * layout from another node, the emitter or a script goes to this node's sockets unparsed.
 */
export function readFramesOnce(factory: AdapterFactory): AdapterFactory {
  return (nsp) => {
    const adapter = factory(nsp);
    const internals = adapter as unknown as AdapterInternals;
    const own = Buffer.from(`{"uid":${JSON.stringify(internals.uid)},`);
    const onRawMessage = internals.onRawMessage.bind(adapter);
    internals.onRawMessage = (raw, channel) => {
      if (!Buffer.isBuffer(raw)) return onRawMessage(raw, channel);
      if (raw.length > own.length && raw.compare(own, 0, own.length, 0, own.length) === 0) return;
      const frame = readEventFrame(raw);
      // The text below is the packet as socket.io-parser writes it in the main namespace.
      if (!frame || frame.uid === internals.uid || frame.nsp !== "/" || internals.nsp.name !== "/") return onRawMessage(raw, channel);
      // To this node's sockets, as the cluster adapter does with a frame it parsed.
      broadcastText(adapter, frame.data.toString(), { rooms: new Set(frame.opts.rooms), except: new Set(frame.opts.except), flags: frame.opts.flags });
    };
    // This adapter's broadcasts only: the server's encoder stays as it is for everything else.
    internals.encoder = encodingAlsoEncoded(internals.encoder);
    return adapter;
  };
}
