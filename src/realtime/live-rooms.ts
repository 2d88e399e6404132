import { randomUUID } from 'node:crypto';
import type { Logger } from '../shared/logger.js';
import type { Redis } from '../shared/redis.js';
import type { RealtimeServer } from './realtime.types.js';
import { LIVE_ROOM_PREFIX } from './rooms.js';

/** A node's live rooms as another node last heard them, and until when to believe it. */
type Peer = { rooms: Set<string>; until: number };

export type LiveRooms = ReturnType<typeof createLiveRooms>;

/**
 * Which rooms of per-message queue activity (`live:{queue}`) have a socket on some node, so that a
 * message's `conversation_activity` is published only where someone listens. The inbox takes its
 * activity in batches, so these rooms are mostly empty; the Redis adapter cannot know other
 * nodes' rooms and published every emit to every node all the same: a PUBLISH, and the message
 * back through the subscription, for every message.
 *
 * - A node tells the others when its first socket joins such a room (`add`), and the join waits,
 *   up to `joinWaitMs`, until every other node has heard it (`heard`); when the last leaves, it
 *   tells them too (`remove`).
 * - Every `announceMs` it sends its whole set (`all`). A node not heard from for three periods
 *   (stopped, or cut off from Redis) is forgotten.
 * - Until it has every other node's set (it asks them at start, and again once its Redis links
 *   are back, after sending its own), and whenever a link is down, a node publishes to every live
 *   room, as before.
 * - Without Redis (one node) only its own rooms count.
 */
export function createLiveRooms({
  io,
  links,
  logger,
  announceMs = 10_000,
  joinWaitMs = 1_000,
}: {
  io: RealtimeServer;
  /** The adapter's connections: other nodes share the rooms. None: one node. */
  links?: { publisher: Redis; subscriber: Redis } | undefined;
  logger: Logger;
  announceMs?: number;
  joinWaitMs?: number;
}) {
  const clustered = links !== undefined;
  const subscriber = links?.subscriber;
  const node = randomUUID();
  const local = io.of('/').adapter.rooms;
  const peers = new Map<string, Peer>();
  // Whether `peers` holds every other node's rooms.
  let certain = !clustered;
  // Counts the times a Redis link went down; an answer asked for before the last one is stale.
  let epoch = 0;
  // While a link is down an `add` could be neither heard nor answered; `relink` sends the whole
  // set once both are back.
  const linked = () => !links || (links.publisher.status === 'ready' && links.subscriber.status === 'ready');
  let relinking: Promise<void> | null = null;
  let asking: { epoch: number; done: Promise<void> } | null = null;
  // Rooms whose `add` has not been heard by every node yet.
  const announcing = new Map<string, Promise<void>>();
  let closed = false;

  const isLive = (room: unknown): room is string =>
    typeof room === 'string' && room.startsWith(LIVE_ROOM_PREFIX);
  const ownRooms = () => [...local.keys()].filter(isLive);

  function heardFrom(from: string, rooms: string[], op: 'add' | 'remove' | 'all') {
    if (from === node || !Array.isArray(rooms)) return;
    let peer = peers.get(from);
    if (!peer) peers.set(from, (peer = { rooms: new Set(), until: 0 }));
    peer.until = Date.now() + 3 * announceMs;
    if (op === 'all') peer.rooms = new Set(rooms.filter(isLive));
    else for (const room of rooms.filter(isLive)) peer.rooms[op === 'add' ? 'add' : 'delete'](room);
  }

  /** Settles once every other node answered, or after `ms` (false), never rejecting. */
  async function withAck(ms: number, send: () => Promise<unknown>): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms).unref()));
    try {
      return await Promise.race([send(), late]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Asks every other node for its rooms; `certain` once all have answered, unless a link went
   * down meanwhile (`epoch`): then what they said may already be out of date.
   */
  function ask(): Promise<void> {
    if (asking?.epoch === epoch) return asking.done;
    const asked = epoch;
    const done = (async () => {
      // The number of nodes to hear from is the request channel's subscribers, this one among
      // them once its SUBSCRIBE is through: a PING on that connection answers after it.
      await subscriber?.ping().catch(() => undefined);
      const replies = await withAck(announceMs, () => io.serverSideEmitWithAck('live_rooms_query'));
      if (closed || asked !== epoch || !Array.isArray(replies)) {
        logger.debug('not every node told its live rooms; activity goes to every live room meanwhile');
        return;
      }
      for (const reply of replies as unknown[]) {
        if (Array.isArray(reply) && typeof reply[0] === 'string' && Array.isArray(reply[1]))
          heardFrom(reply[0], reply[1] as string[], 'all');
      }
      certain = true;
    })();
    asking = { epoch: asked, done };
    void done.finally(() => {
      if (asking?.done === done) asking = null;
    });
    return done;
  }

  if (clustered) {
    io.on('live_rooms', heardFrom);
    io.on('live_rooms_ack', (from, rooms, op, ack) => {
      heardFrom(from, rooms, op);
      if (typeof ack === 'function') ack(true);
    });
    io.on('live_rooms_query', (ack) => {
      if (typeof ack === 'function') ack([node, ownRooms()]);
    });
    io.of('/').adapter.on('create-room', (room: unknown) => {
      if (!isLive(room) || !linked()) return;
      const sent = withAck(joinWaitMs, () =>
        io.serverSideEmitWithAck('live_rooms_ack', node, [room], 'add'),
      ).then(() => undefined);
      announcing.set(room, sent);
      void sent.finally(() => {
        if (announcing.get(room) === sent) announcing.delete(room);
      });
    });
    io.of('/').adapter.on('delete-room', (room: unknown) => {
      if (isLive(room)) io.serverSideEmit('live_rooms', node, [room], 'remove');
    });
  }

  /** Both links are (back) up: this node's rooms to every node, then theirs asked again. */
  function relink(): Promise<void> {
    relinking ??= (async () => {
      await withAck(joinWaitMs, () => io.serverSideEmitWithAck('live_rooms_ack', node, ownRooms(), 'all'));
      await ask();
    })().finally(() => (relinking = null));
    return relinking;
  }

  if (links) {
    for (const link of [links.publisher, links.subscriber]) {
      link.on('close', () => {
        certain = false;
        epoch += 1;
      });
      link.on('ready', () => {
        if (linked()) void relink();
      });
    }
  }

  const timer = clustered
    ? setInterval(() => {
        const now = Date.now();
        for (const [id, peer] of peers) if (peer.until < now) peers.delete(id);
        io.serverSideEmit('live_rooms', node, ownRooms(), 'all');
        if (!certain) void ask();
      }, announceMs).unref()
    : undefined;
  if (clustered) void ask();

  return {
    /** Whether `conversation_activity` for this live room may reach a socket. */
    listened(room: string): boolean {
      if (!certain || local.has(room)) return true;
      const now = Date.now();
      for (const peer of peers.values()) if (peer.until >= now && peer.rooms.has(room)) return true;
      return false;
    },
    /** Settles once every node has heard of these rooms of this node (bounded by `joinWaitMs`). */
    async heard(rooms: string[]): Promise<void> {
      await Promise.all(rooms.map((r) => announcing.get(r)));
    },
    /**
     * Settles once the other nodes know this node's rooms again after its links came back, and it
     * theirs (bounded: `joinWaitMs`, then one ask).
     */
    async relinked(): Promise<void> {
      if (clustered && linked()) await relink();
    },
    /** Stops announcing; the other nodes forget this node's rooms at once. */
    close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      if (clustered) io.serverSideEmit('live_rooms', node, [], 'all');
    },
  };
}
