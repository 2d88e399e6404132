import type { Logger } from '../../shared/logger.js';
import { closeRedis, duplicateRedis, onReconnect, type Redis } from '../../shared/redis.js';
import { batchPublishes } from '../../shared/turn-writes.js';
import type { ServerFrame } from './ws.frames.js';

/** What every node hears on the channel: a frame for a conversation's visitors, or a cut-off. */
export type FanoutMessage =
  | { kind: 'frame'; conversationId: string; frame: ServerFrame }
  | {
      kind: 'close';
      organizationId?: string | undefined;
      endUserIds?: string[] | undefined;
      code: number;
      reason: string;
    };

export type Fanout = {
  /**
   * Sends to every node (this one included) that watches the frame's conversation, a cut-off to
   * every node; without Redis, to this node only.
   */
  publish(message: FanoutMessage): void;
  /**
   * This node hears the conversation's frames until as many `unwatch` calls: resolved once Redis
   * has confirmed the subscription, so a history read after it misses nothing. When Redis does not
   * answer within WATCH_WAIT_MS it resolves anyway: nothing reaches any node then, and the resync
   * when the link comes back tells the visitors to catch up.
   */
  watch(conversationId: string): Promise<void>;
  unwatch(conversationId: string): void;
  close(): Promise<void>;
};

/** How long a new connection waits for its conversation's subscription before its welcome. */
const WATCH_WAIT_MS = 2000;

/**
 * The relay WebSocket's pub/sub: a frame stored on any node reaches the visitors of its
 * conversation on every node, each node delivering to its own connections. Frames go to the
 * conversation's channel (`${prefix}:ws:{conversation id}`), which only nodes holding one of its
 * visitors subscribe to, so a message nobody watches on a WebSocket costs no node a parse (on one
 * channel for all, every node parsed every stored message); cut-offs go to `${prefix}:ws`, which
 * every node subscribes to. This node's own publications come back through the subscription, so
 * frames of one conversation are delivered in the order they were published on a node, whatever
 * node stored them. When the subscriptions come back after an outage, `onResync` runs: what was
 * published meanwhile is lost, so the clients are told to catch up from the database.
 *
 * A node of an older version published frames on `${prefix}:ws`: they are still delivered, but
 * an older node does not hear this one's frames; its visitors catch up when they reconnect to a
 * node of this version (a rolling upgrade restarts every node).
 */
export async function createFanout(deps: {
  redis: Redis | undefined;
  prefix: string;
  logger: Logger;
  deliver: (message: FanoutMessage) => void;
  onResync: () => void;
}): Promise<Fanout> {
  const { redis, logger, deliver } = deps;
  if (!redis) {
    return {
      publish: (message) => deliver(message),
      watch: async () => {},
      unwatch: () => {},
      close: async () => {},
    };
  }
  const channel = `${deps.prefix}:ws`;
  const framesOf = (conversationId: string) => `${channel}:${conversationId}`;
  /** Conversations watched here: connections watching, and the subscription's confirmation. */
  const watched = new Map<string, { count: number; subscribed: Promise<void> }>();
  const [pub, sub] = await Promise.all([
    duplicateRedis(redis, 'redis (relay ws publish)', logger),
    duplicateRedis(redis, 'redis (relay ws subscribe)', logger),
  ]);
  // A turn's frames reach Redis in one write (the connections' sends flush them first).
  batchPublishes(pub);
  sub.on('message', (ch: string, text: string) => {
    if (ch !== channel && !ch.startsWith(`${channel}:`)) return;
    let message: FanoutMessage;
    try {
      message = JSON.parse(text) as FanoutMessage;
    } catch {
      return;
    }
    deliver(message);
  });
  // Not awaited: with Redis down at start-up the command waits in the offline queue until it is
  // back, and the node must start meanwhile. The client resubscribes by itself after a reconnect.
  sub.subscribe(channel).catch((err: unknown) => logger.warn({ err }, 'relay ws subscribe failed'));
  onReconnect(sub, deps.onResync);
  return {
    publish(message) {
      const to = message.kind === 'frame' ? framesOf(message.conversationId) : channel;
      pub.publish(to, JSON.stringify(message)).catch((err: unknown) => {
        logger.warn({ err }, 'relay ws publish failed');
      });
    },
    watch(conversationId) {
      const known = watched.get(conversationId);
      if (known) {
        known.count += 1;
        return known.subscribed;
      }
      const subscribed = Promise.race([
        sub.subscribe(framesOf(conversationId)).then(
          () => {},
          (err: unknown) => logger.warn({ err }, 'relay ws subscribe failed'),
        ),
        new Promise<void>((resolve) => setTimeout(resolve, WATCH_WAIT_MS).unref()),
      ]);
      watched.set(conversationId, { count: 1, subscribed });
      return subscribed;
    },
    unwatch(conversationId) {
      const known = watched.get(conversationId);
      if (!known || --known.count > 0) return;
      watched.delete(conversationId);
      // In order on the subscriber's connection: a watch right after subscribes again.
      sub.unsubscribe(framesOf(conversationId)).catch(() => {});
    },
    async close() {
      await Promise.all([closeRedis(pub), closeRedis(sub)]);
    },
  };
}
