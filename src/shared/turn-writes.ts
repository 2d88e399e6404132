import type { Socket } from 'node:net';
import type { Redis } from './redis.js';

type Corkable = Pick<Socket, 'cork' | 'uncork' | 'writable'>;

/** Connections corked until the end of this turn: Redis's (publishes) first, then clients'. */
const publishes = new Set<Corkable>();
const clients = new Set<Corkable>();
let flushDue = false;

function hold(set: Set<Corkable>, stream: Corkable) {
  if (set.has(stream) || !stream.writable) return;
  stream.cork();
  set.add(stream);
  if (!flushDue) {
    flushDue = true;
    process.nextTick(flushTurnWrites);
  }
}

/**
 * The writes of one turn of the event loop go out together. A turn that stores a batch of
 * messages issues, for each, its broadcasts (a Redis publish each: the room's message, the queue's
 * activity, the relay's frame) and the frames of the clients on this node; each was a syscall of
 * its own, and each woke another process (Redis, a client) that took the core from this one. Held
 * here, each connection's writes of the turn go out in one syscall once the turn's work is done
 * (`process.nextTick`), or sooner (`flushTurnWrites`).
 *
 * Order is kept. Each connection's writes stay in order (one buffer), and the publishes go out
 * before any client write of the turn, so no client can act on a message (reply through another
 * node, say) before its broadcast has reached Redis. A write that is not held (an HTTP response,
 * the relay WebSocket, Engine.IO's polling transport) calls `flushTurnWrites` first.
 */
export function batchPublishes(client: Redis): void {
  const publish = client.publish.bind(client) as (
    channel: string,
    message: string | Buffer,
  ) => Promise<number>;
  client.publish = ((channel: string, message: string | Buffer) => {
    // Not connected: the command waits in ioredis's offline queue, not in the stream.
    if (client.status === 'ready' && client.stream) hold(publishes, client.stream);
    return publish(channel, message);
  }) as Redis['publish'];
}

/** Holds a client connection's writes until the end of this turn, after the turn's publishes. */
export function holdClientWrites(socket: Corkable): void {
  hold(clients, socket);
}

/** Writes everything held so far, publishes first. Cheap when nothing is held. */
export function flushTurnWrites(): void {
  if (!publishes.size && !clients.size) return;
  flushDue = false;
  for (const stream of publishes) stream.uncork();
  publishes.clear();
  for (const stream of clients) stream.uncork();
  clients.clear();
}
