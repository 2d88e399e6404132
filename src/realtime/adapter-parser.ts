import { Packr, Unpackr } from 'msgpackr';

/** MessagePack's header of a 3-item array, and the range of a string of up to 31 bytes. */
const ARRAY_OF_3 = 0x93;
const FIXSTR = 0xa0;
const FIXSTR_MAX = 0xbf;

/**
 * The Redis adapter's parser: MessagePack, as the adapter's default (notepack.io), read and
 * written the same, so nodes of the previous version still understand this one and it them.
 *
 * - **Encoding** uses msgpackr, which writes into a buffer it keeps and returns a slice of it,
 *   where notepack built a list of parts and a buffer for each broadcast: at 1,000 msg/s notepack
 *   was 48 of the server's 580 MB allocated in 8 s. Records (msgpackr's own extension) are off:
 *   the output is plain MessagePack.
 * - **Decoding**: 64-bit integers come back as numbers, as notepack gave them.
 * - **This node's own broadcasts** come back too, since every node subscribes to every room's
 *   channel; the adapter decoded the whole packet only to drop it on its sender's id
 *   (`[uid, packet, opts]`), about 4% of the node's CPU in the benchmark. Such a message is
 *   recognised by its first bytes and answered `[uid]`, which the adapter drops the same way.
 *   Anything else (other nodes' broadcasts, requests) is decoded whole.
 */
export function createAdapterParser() {
  const own = new Set<string>();
  const packr = new Packr({ useRecords: false });
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
  return {
    parser: {
      encode: (value: unknown): Buffer => packr.pack(value),
      decode(msg: Buffer): unknown {
        const head = msg[1] ?? 0;
        if (own.size && msg[0] === ARRAY_OF_3 && head >= FIXSTR && head <= FIXSTR_MAX) {
          const uid = msg.toString('latin1', 2, 2 + head - FIXSTR);
          if (own.has(uid)) return [uid];
        }
        return unpackr.unpack(msg) as unknown;
      },
    },
    /** Names a local adapter (its `uid`): its own broadcasts are dropped unread. */
    own(uid: string) {
      own.add(uid);
    },
  };
}
