import type { Message } from '../generated/prisma/client.js';
import type { Db } from '../shared/db.js';
import type { DomainEvents, EventBus } from '../shared/events.js';
import type { Logger } from '../shared/logger.js';
import { isDatabaseUnavailable, retryWhileUnavailable } from '../shared/outage.js';
import type { EndUserPresence, PushPayload } from './push.types.js';

const BODY_MAX = 178;

/** One line of text for the lock screen: the message's text, or what kind of thing was sent. */
export function pushBody(message: Pick<Message, 'content' | 'contentType'>): string {
  const text = message.content.replace(/\s+/g, ' ').trim();
  if (text) return text.length > BODY_MAX ? `${text.slice(0, BODY_MAX - 1).trimEnd()}…` : text;
  if (message.contentType === 'image') return 'Sent an image';
  if (message.contentType === 'file') return 'Sent a file';
  return 'New message';
}

/**
 * The live devices of end users. Lookups made in the same turn of the event loop share one
 * query, so a burst of replies to users on other nodes costs one round trip, not one each.
 */
function createDeviceLookup(db: Db) {
  type Waiter = {
    organizationId: string;
    endUserId: string;
    resolve: (deviceIds: string[]) => void;
    reject: (err: unknown) => void;
  };
  let waiting: Waiter[] = [];

  async function flush() {
    const batch = waiting;
    waiting = [];
    try {
      const rows = await db.deviceToken.findMany({
        where: { endUserId: { in: [...new Set(batch.map((w) => w.endUserId))] }, disabledAt: null },
        select: { id: true, endUserId: true, organizationId: true },
      });
      for (const w of batch) {
        const mine = rows.filter((r) => r.endUserId === w.endUserId && r.organizationId === w.organizationId);
        w.resolve(mine.map((r) => r.id));
      }
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }

  return (organizationId: string, endUserId: string) =>
    new Promise<string[]>((resolve, reject) => {
      if (!waiting.length) setImmediate(() => void flush());
      waiting.push({ organizationId, endUserId, resolve, reject });
    });
}

/**
 * Listener on `message.created`: an agent's or bot's message to an end user who has no socket
 * connected (on any node) becomes one outbox row per live device, then the worker is woken.
 * Nothing here runs on the message's path: the bus calls it after the message is stored and
 * sent, and its failures are only logged.
 *
 * Cheapest question first: an end user connected to this node (no I/O) needs no push; else their
 * live devices (an indexed query, shared by the replies of one moment); only then whether another
 * node has them (a cluster round trip).
 */
export function pushListener(deps: {
  db: Db;
  bus: EventBus;
  endUsers: EndUserPresence;
  kick: () => void;
  logger: Logger;
}) {
  const { db, endUsers, logger } = deps;
  /** Replies whose push the database's absence held up, tried again until it is back (stop cancels). */
  const retries = new Set<() => void>();
  const devicesOf = createDeviceLookup(db);

  async function title(message: Message, organizationId: string, channelId: string) {
    if (message.senderType === 'agent') {
      const agent = await db.user.findFirst({
        where: { id: message.senderId, organizationId },
        select: { displayName: true },
      });
      if (agent) return agent.displayName;
    }
    const channel = await db.channel.findUnique({
      where: { id: channelId },
      select: { bot: { select: { name: true } }, organization: { select: { name: true } } },
    });
    return (message.senderType === 'bot' ? channel?.bot.name : channel?.organization.name) ?? 'New message';
  }

  async function onMessage({ message, conversation }: DomainEvents['message.created']) {
    // Internal notes are never pushed to the end user.
    if (message.internal || (message.senderType !== 'agent' && message.senderType !== 'bot')) return;
    if (endUsers.here(conversation.endUserId)) return;
    const devices = await devicesOf(conversation.organizationId, conversation.endUserId);
    if (!devices.length || (await endUsers.anywhere(conversation.endUserId))) return;
    const payload: PushPayload = {
      title: await title(message, conversation.organizationId, conversation.channelId),
      body: pushBody(message),
      conversationId: conversation.id,
      messageId: message.id,
    };
    await db.pushJob.createMany({
      data: devices.map((deviceTokenId) => ({
        organizationId: conversation.organizationId,
        deviceTokenId,
        conversationId: conversation.id,
        messageId: message.id,
        payload,
      })),
      skipDuplicates: true,
    });
    deps.kick();
  }

  /**
   * After a node died: the agents' and bots' messages stored between `from` and `to` that no push
   * was queued for and that the end user's clients never acknowledged (the dead node stored them
   * and died before this listener ran there) go through it now, so an end user still away gets
   * them on their devices. Answers how many were looked at.
   */
  async function recover(from: Date, to: Date): Promise<number> {
    const rows = await db.$queryRaw<{ id: string }[]>`
      SELECT m."id"::text
        FROM "conversations" c
        JOIN "messages" m ON m."conversation_id" = c."id"
         AND m."created_at" BETWEEN ${from} AND ${to}
         AND m."sender_type" IN ('agent', 'bot') AND NOT m."internal"
         AND m."seq" > c."visitor_delivered_seq"
       WHERE c."updated_at" >= ${from}
         AND EXISTS (SELECT 1 FROM "device_tokens" d
                      WHERE d."end_user_id" = c."end_user_id" AND d."disabled_at" IS NULL)
         AND NOT EXISTS (SELECT 1 FROM "push_jobs" p WHERE p."message_id" = m."id")`;
    if (!rows.length) return 0;
    const messages = await db.message.findMany({
      where: { id: { in: rows.map((r) => r.id) } },
      include: { conversation: { include: { endUser: { select: { externalId: true } } } } },
      orderBy: { seq: 'asc' },
    });
    for (const { conversation: c, ...message } of messages) {
      await onMessage({
        message,
        conversation: {
          id: c.id,
          organizationId: c.organizationId,
          channelId: c.channelId,
          endUserId: c.endUserId,
          endUserExternalId: c.endUser.externalId,
          routingKey: c.routingKey,
          mode: c.mode,
        },
        sessionOpened: false,
        redelivered: true,
      });
    }
    return messages.length;
  }

  /**
   * A reply stored just before the database went away is still pushed after it: the listener's
   * reads and its outbox row are tried again every 5 s (two minutes at most; the rows are unique
   * per message and device).
   */
  function onMessageOrLater(e: DomainEvents['message.created']) {
    return onMessage(e).catch((err: unknown) => {
      if (!isDatabaseUnavailable(err)) throw err;
      retryWhileUnavailable(() => onMessage(e), {
        logger,
        what: 'push: queueing a reply',
        context: { messageId: e.message.id },
        pending: retries,
        delayMs: 5000,
        tries: 24,
      });
    });
  }

  const off = deps.bus.subscribe('message.created', onMessageOrLater);
  return {
    off() {
      off();
      for (const cancel of retries) cancel();
    },
    recover,
  };
}
