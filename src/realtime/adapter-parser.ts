import * as msgpack from 'notepack.io';

/** MessagePack's header of a 3-item array, and the range of a string of up to 31 bytes. */
const ARRAY_OF_3 = 0x93;
const FIXSTR = 0xa0;
const FIXSTR_MAX = 0xbf;

/**
 * The Redis adapter's parser: MessagePack, as the adapter's default, except for this node's own
 * broadcasts. Every node subscribes to every room's channel, so each broadcast also comes back to
 * the node that published it, where the adapter decoded the whole packet only to drop it on its
 * sender's id (`[uid, packet, opts]`); in the benchmark that decoding was about 4% of the node's
 * CPU. Here such a message is recognised by its first bytes and answered `[uid]`, which the
 * adapter drops the same way. Anything else (other nodes' broadcasts, requests) is decoded whole.
 */
export function createAdapterParser() {
  const own = new Set<string>();
  return {
    parser: {
      encode: (value: unknown): Buffer => msgpack.encode(value) as Buffer,
      decode(msg: Buffer): unknown {
        const head = msg[1] ?? 0;
        if (own.size && msg[0] === ARRAY_OF_3 && head >= FIXSTR && head <= FIXSTR_MAX) {
          const uid = msg.toString('latin1', 2, 2 + head - FIXSTR);
          if (own.has(uid)) return [uid];
        }
        return msgpack.decode(msg) as unknown;
      },
    },
    /** Names a local adapter (its `uid`): its own broadcasts are dropped unread. */
    own(uid: string) {
      own.add(uid);
    },
  };
}
