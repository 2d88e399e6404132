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
  /** Sends to every node (this one included); without Redis, to this node only. */
  publish(message: FanoutMessage): void;
  close(): Promise<void>;
};

/**
 * The relay WebSocket's one pub/sub channel (`${prefix}:ws`): a frame stored on any node reaches
 * the visitors of its conversation on every node, each node delivering to its own connections.
 * This node's own publications come back through the subscription, so frames of one conversation
 * are delivered in the order they were published on a node, whatever node stored them. When the
 * subscription comes back after an outage, `onResync` runs: what was published meanwhile is lost,
 * so the clients are told to catch up from the database.
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
      close: async () => {},
    };
  }
  const channel = `${deps.prefix}:ws`;
  const [pub, sub] = await Promise.all([
    duplicateRedis(redis, 'redis (relay ws publish)', logger),
    duplicateRedis(redis, 'redis (relay ws subscribe)', logger),
  ]);
  // A turn's frames reach Redis in one write (the connections' sends flush them first).
  batchPublishes(pub);
  sub.on('message', (ch: string, text: string) => {
    if (ch !== channel) return;
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
      pub.publish(channel, JSON.stringify(message)).catch((err: unknown) => {
        logger.warn({ err }, 'relay ws publish failed');
      });
    },
    async close() {
      await Promise.all([closeRedis(pub), closeRedis(sub)]);
    },
  };
}
