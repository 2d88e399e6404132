import { setTimeout as sleep } from 'node:timers/promises';
import { Prisma, type Conversation } from '../generated/prisma/client.js';
import type { Db } from '../shared/db.js';
import type { DomainEvents, EventBus } from '../shared/events.js';
import type { Logger } from '../shared/logger.js';
import type { MessageService } from '../messages/messages.service.js';
import type { EscalationService } from '../tickets/escalation.service.js';
import { wordsFor, type Answerer } from './answerer.js';
import { createAnswerPath, type KnowledgeSearch } from './answer-path.js';
import { settingsOf } from '../tenants/settings.js';
import { asksForHuman } from './human-request.js';
import { isDatabaseUnavailable, retryWhileUnavailable } from '../shared/outage.js';

export type Bot = ReturnType<typeof createBot>;
export type { KnowledgeSearch } from './answer-path.js';

/** Questions in a row without an answer before the bot hands over. */
const MISSES_BEFORE_HANDOVER = 2;
/** A question whose handling the database's absence stopped is tried again this often, this many times. */
const UNAVAILABLE_RETRY_MS = 5000;
const UNAVAILABLE_TRIES = 24;

type Conv = Conversation & {
  endUser: { externalId: string };
  channel: { botId: string };
  organization: { config: Prisma.JsonValue };
};

/** "about 20 minutes", "about 3 hours". */
function humanDuration(ms: number, locale: string | null) {
  const fr = locale?.startsWith('fr');
  const minutes = Math.max(1, Math.round(ms / 60_000));
  if (minutes < 90) return fr ? `${minutes} minutes` : `about ${minutes} minutes`;
  const hours = Math.round(minutes / 60);
  return fr ? `${hours} heures` : `about ${hours} hours`;
}

/**
 * The bot of conversations in `bot` mode. Each visitor message is answered from the tenant's
 * knowledge base (the model answerer when one is configured, the extractive one otherwise or
 * when the model fails), as the channel's bot, with a "talk to a person" button and follow-up
 * suggestions; a request for a person, or a second question in a row without an answer,
 * escalates. In `human` mode it never speaks, except once to tell the visitor a person is coming.
 * A conversation's messages are handled one at a time, in order.
 */
export function createBot(deps: {
  db: Db;
  bus: EventBus;
  logger: Logger;
  knowledge: KnowledgeSearch;
  messages: Pick<MessageService, 'sendAsService'>;
  escalations: Pick<EscalationService, 'escalate'>;
  /** The model answerer, when configured; the extractive one answers otherwise. */
  model?: Answerer | undefined;
  /** Whether any agent of the organization is online (presence). */
  agentsOnline: (organizationId: string) => Promise<boolean>;
  /**
   * How long a live node may take to answer a question (past the model's timeout): recovery
   * leaves younger questions to it.
   */
  recoveryGraceMs: number;
}) {
  const { db, logger, recoveryGraceMs } = deps;
  /** Recoveries still to come (or retried), cancelled on stop. */
  const cancels = new Set<() => void>();
  const path = createAnswerPath({ knowledge: deps.knowledge, model: deps.model, logger });
  const lanes = new Map<string, Promise<void>>();

  /** Cancels the waits of work held up by a database outage (on stop). */
  const stopping = new AbortController();

  /**
   * `work`, and again every 5 s while it fails because the database is away (two minutes at
   * most): a question stored just before an outage is still answered after it. The
   * conversation's later work waits meanwhile, as it would need the database too.
   */
  async function whileUnavailable(conversationId: string, work: () => Promise<void>) {
    for (let n = 1; ; n++) {
      try {
        return await work();
      } catch (err) {
        if (n >= UNAVAILABLE_TRIES || stopping.signal.aborted || !isDatabaseUnavailable(err)) throw err;
        if (n === 1)
          logger.warn({ err, conversationId }, 'bot: the database is unavailable, retrying every 5 s');
        // Stopped meanwhile: given up, with the outage's error.
        await sleep(UNAVAILABLE_RETRY_MS, undefined, { signal: stopping.signal, ref: false }).catch(() => {
          throw err;
        });
      }
    }
  }

  /** Runs `work` after the conversation's previous work, never two at once for one conversation. */
  function inOrder(conversationId: string, work: () => Promise<void>) {
    const next = (lanes.get(conversationId) ?? Promise.resolve())
      .then(() => whileUnavailable(conversationId, work))
      .catch((err: unknown) => logger.error({ err, conversationId }, 'bot failed to handle a message'))
      .finally(() => {
        if (lanes.get(conversationId) === next) lanes.delete(conversationId);
      });
    lanes.set(conversationId, next);
  }

  async function load(conversationId: string): Promise<Conv | null> {
    return db.conversation.findUnique({
      where: { id: conversationId },
      include: {
        endUser: { select: { externalId: true } },
        channel: { select: { botId: true } },
        organization: { select: { config: true } },
      },
    });
  }

  /**
   * A bot message. `key` makes it idempotent (its `client_msg_id`): the same answer, sent again by a
   * recovering node, is stored once.
   */
  const say = (conv: Conv, key: string, content: string, buttons: { label: string; value: string }[] = []) =>
    deps.messages.sendAsService(
      conv,
      { type: 'bot', id: conv.channel.botId },
      buttons.length
        ? { content, content_type: 'quick_button', rich_media: { buttons }, client_msg_id: key }
        : { content, client_msg_id: key },
    );

  /** A visitor's message: answered, or counted as a miss, or escalated. */
  async function onVisitorMessage(e: {
    message: { id: string; content: string };
    conversation: { id: string };
  }) {
    const conv = await load(e.conversation.id);
    const key = `bot:${e.message.id}`;
    // Escalated meanwhile (by an earlier message, the backend): the humans have it now.
    if (!conv || conv.mode !== 'bot') return;
    const question = e.message.content.trim();
    if (!question) return;
    // The words of English, the visitor's language and the tenant's.
    if (asksForHuman(question, [conv.locale, settingsOf(conv.organization.config).locale])) {
      await deps.escalations.escalate(conv.organizationId, conv.id, { reason: 'visitor_request' });
      return;
    }
    const { answer: found, hits } = await path.compose(conv.organizationId, question, conv.locale, {
      conversationId: conv.id,
    });
    if (!found) {
      const { botMisses } = await db.conversation.update({
        where: { id: conv.id },
        data: { botMisses: { increment: 1 } },
        select: { botMisses: true },
      });
      if (botMisses >= MISSES_BEFORE_HANDOVER) {
        await deps.escalations.escalate(conv.organizationId, conv.id, { reason: 'no_answer' });
        return;
      }
      const reply = path.noAnswerReply(conv.locale);
      await say(conv, key, reply.text, reply.buttons);
      return;
    }
    if (conv.botMisses > 0) await db.conversation.update({ where: { id: conv.id }, data: { botMisses: 0 } });
    // Under the answer: a person, and the other documents found, whose titles the visitor can tap.
    await say(conv, key, found.text, path.answerButtons(found, hits, conv.locale));
  }

  /** The visitor is told a person is coming, and how long it usually takes when nobody is online. */
  async function onEscalated(e: Pick<DomainEvents['conversation.escalated'], 'conversationId' | 'ticketId'>) {
    const conv = await load(e.conversationId);
    if (!conv) return;
    const words = wordsFor(conv.locale);
    const key = `bot:escalated:${e.ticketId}`;
    if (await deps.agentsOnline(conv.organizationId).catch(() => false)) {
      await say(conv, key, words.coming);
      return;
    }
    const wait = await typicalWaitMs(conv.organizationId);
    await say(
      conv,
      key,
      wait === null
        ? `${words.offline}.`
        : `${words.offline} (${words.typicalWait} ${humanDuration(wait, conv.locale)}).`,
    );
  }

  /** The median time to a first assignment over the last 30 days (five at least), or null. */
  async function typicalWaitMs(organizationId: string): Promise<number | null> {
    const rows = await db.$queryRaw<{ median: number | null; n: bigint }[]>`
      SELECT percentile_cont(0.5) WITHIN GROUP (
               ORDER BY EXTRACT(EPOCH FROM ("assigned_at" - "first_message_at")) * 1000) AS median,
             count(*) AS n
        FROM "conversation_sessions"
       WHERE "organization_id" = ${organizationId}::uuid AND "assigned_at" IS NOT NULL
         AND "first_message_at" IS NOT NULL AND "assigned_at" > now() - interval '30 days'`;
    const row = rows[0];
    return row && Number(row.n) >= 5 && row.median !== null ? Number(row.median) : null;
  }

  const offs = [
    deps.bus.subscribe('message.created', (e) => {
      if (
        e.redelivered ||
        e.message.internal ||
        e.message.senderType !== 'end_user' ||
        e.conversation.mode !== 'bot'
      )
        return;
      inOrder(e.conversation.id, () => onVisitorMessage(e));
    }),
    deps.bus.subscribe('conversation.escalated', (e) => {
      inOrder(e.conversationId, () => onEscalated(e));
    }),
  ];

  /**
   * After a crash or a restart, or once another node is found dead: the visitor messages of the
   * last `withinMin` minutes that the bot never answered (the last message of a bot-mode
   * conversation is the visitor's) are answered now; with `storedBy`, only those stored by then
   * (when the dead node died at the latest: later ones are live nodes' to answer). A question
   * younger than the grace may be on its way to an answer on a live node, which would then be
   * composed twice (a model's call twice, a miss counted twice, an escalation raced): it is
   * left. So is the visitor of an escalation who was never told a person is coming. Idempotent
   * across nodes: an answer is keyed by the message it answers, the words by the ticket.
   */
  async function recover(withinMin = 10, storedBy?: Date) {
    const by = storedBy ? Prisma.sql`AND m."created_at" <= ${storedBy}` : Prisma.empty;
    const graceS = recoveryGraceMs / 1000;
    const rows = await db.$queryRaw<{ id: string; message_id: string; content: string }[]>`
      SELECT c."id", m."id" AS message_id, m."content"
        FROM "conversations" c
        JOIN LATERAL (SELECT "id", "content", "sender_type", "created_at" FROM "messages"
                       WHERE "conversation_id" = c."id" AND NOT "internal"
                       ORDER BY "seq" DESC LIMIT 1) m ON true
       WHERE c."mode" = 'bot' AND c."updated_at" > now() - make_interval(mins => ${withinMin})
         AND m."sender_type" = 'end_user' ${by}
         AND m."created_at" <= now() - make_interval(secs => ${graceS})
         AND EXISTS (SELECT 1 FROM "knowledge_documents" k WHERE k."organization_id" = c."organization_id")`;
    for (const r of rows) {
      inOrder(r.id, () =>
        onVisitorMessage({ message: { id: r.message_id, content: r.content }, conversation: { id: r.id } }),
      );
    }
    // Escalations whose visitor was never told a person is coming (the node died between the
    // commit and its bot's words), while nobody has answered yet in the session still open. The
    // words are keyed by the ticket the escalation filed, the first one from its moment on.
    const byEscalated = storedBy ? Prisma.sql`AND c."escalated_at" <= ${storedBy}` : Prisma.empty;
    const untold = await db.$queryRaw<{ id: string; ticket_id: string }[]>`
      SELECT c."id", t."id" AS ticket_id
        FROM "conversations" c
        JOIN LATERAL (SELECT "id" FROM "tickets"
                       WHERE "conversation_id" = c."id"
                         AND "created_at" >= c."escalated_at" - interval '1 second'
                       ORDER BY "created_at" LIMIT 1) t ON true
       WHERE c."mode" = 'human' AND c."escalated_at" > now() - make_interval(mins => ${withinMin})
         AND c."escalated_at" <= now() - make_interval(secs => ${graceS}) ${byEscalated}
         AND EXISTS (SELECT 1 FROM "conversation_sessions" s
                      WHERE s."conversation_id" = c."id" AND s."status" = 'open')
         AND NOT EXISTS (SELECT 1 FROM "messages" m
                          WHERE m."conversation_id" = c."id" AND m."created_at" >= c."escalated_at"
                            AND (m."sender_type" = 'agent' OR m."client_msg_id" LIKE 'bot:escalated:%'))`;
    for (const r of untold) {
      inOrder(r.id, () => onEscalated({ conversationId: r.id, ticketId: r.ticket_id }));
    }
    return rows.length + untold.length;
  }

  /**
   * `recover(10, storedBy)` once the questions stored by then are past the grace (and a second
   * for the database's clock), again while the database is away; now without `storedBy`.
   */
  function recoverLater(storedBy: Date | undefined, why: string) {
    retryWhileUnavailable(
      () =>
        recover(10, storedBy).then((n) => {
          if (n) logger.info({ questions: n }, `bot: answering ${why}`);
        }),
      {
        logger,
        what: `bot: answering ${why}`,
        pending: cancels,
        delayMs: storedBy ? storedBy.getTime() + recoveryGraceMs + 1000 - Date.now() : 0,
      },
    );
  }

  return {
    recover,
    /**
     * A node starting: what the last run (or a dead node) left unanswered, now for the questions
     * past the grace, and once it has passed for those stored until now.
     */
    start() {
      recoverLater(undefined, 'what the last run left');
      recoverLater(new Date(), 'what the last run left');
    },
    /** Another node was found dead: the questions it stored by `storedBy`, once past the grace. */
    recoverLost(storedBy: Date) {
      recoverLater(storedBy, 'what a lost node left');
    },
    /** Waits for the work under way (tests, shutdown). */
    idle: async () => {
      while (lanes.size) await Promise.allSettled([...lanes.values()]);
    },
    stop() {
      offs.forEach((off) => off());
      stopping.abort();
      for (const cancel of cancels) cancel();
    },
  };
}
