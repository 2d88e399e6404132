import type { Prisma } from '../generated/prisma/client.js';
import type { Db } from '../shared/db.js';
import type { EventBus } from '../shared/events.js';
import { AppError } from '../shared/errors.js';
import { attemptDto, deliveryDto } from './webhooks.dto.js';
import { webhookEventTypes, type WebhookEventType } from './webhooks.events.js';
import type { DeliveriesQuery, WebhookConfigInput } from './webhooks.schemas.js';
import { normalizeCallbackUrl } from './url-guard.js';

export type WebhookService = ReturnType<typeof createWebhookService>;

const notFound = () => new AppError('webhook/not_found', 'Delivery not found');

const badCursor = () =>
  new AppError('request/invalid', "Invalid parameter 'cursor': use the next_cursor of the previous page", {
    param: 'cursor',
  });

/** A delivery page's cursor: the last row's creation time and id, opaque to the caller. */
const cursorOf = (e: { createdAt: Date; id: string }) =>
  Buffer.from(`${e.createdAt.toISOString()}|${e.id}`, 'utf8').toString('base64url');

function readCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || !/^[0-9a-f-]{36}$/i.test(id) || Number.isNaN(createdAt.getTime())) throw badCursor();
  return { createdAt, id };
}

/**
 * A tenant's webhooks: where they go, which events, the delivery log, redelivery and test events.
 * Every call is scoped to one organization (the signing tenant, or the console's); another
 * tenant's delivery is "not found". Publishes `webhook.queued` for what it queues.
 */
export function createWebhookService({
  db,
  bus,
  allowPrivate,
}: {
  db: Db;
  bus: EventBus;
  allowPrivate: boolean;
}) {
  const configDto = (org: { webhookUrl: string | null; webhookEvents: string[] }) => ({
    callback_base_url: org.webhookUrl,
    // Empty in the database: every event, those added later included.
    events: org.webhookEvents.length ? org.webhookEvents : [...webhookEventTypes],
    available_events: [...webhookEventTypes],
  });

  async function requireEvent(organizationId: string, id: string) {
    const event = await db.webhookEvent.findFirst({ where: { id, organizationId } });
    if (!event) throw notFound();
    return event;
  }

  return {
    async getConfig(organizationId: string) {
      const org = await db.organization.findUniqueOrThrow({
        where: { id: organizationId },
        select: { webhookUrl: true, webhookEvents: true },
      });
      return configDto(org);
    },

    /** Sets the callback URL (null: off) and, when given, the events wanted. */
    async setConfig(organizationId: string, input: WebhookConfigInput) {
      const url =
        input.callback_base_url === null ? null : normalizeCallbackUrl(input.callback_base_url, allowPrivate);
      const data: Prisma.OrganizationUpdateInput = { webhookUrl: url };
      if (input.events !== undefined) {
        const all = webhookEventTypes.every((t) => input.events!.includes(t));
        data.webhookEvents = { set: all ? [] : [...new Set(input.events)] };
      }
      const org = await db.organization.update({
        where: { id: organizationId },
        data,
        select: { webhookUrl: true, webhookEvents: true },
      });
      return configDto(org);
    },

    /** A test event of `type` (data `{test: true}`), delivered like any other. */
    async sendTest(organizationId: string, type: WebhookEventType) {
      const org = await db.organization.findUniqueOrThrow({
        where: { id: organizationId },
        select: { webhookUrl: true },
      });
      if (!org.webhookUrl) {
        throw new AppError('webhook/not_configured', 'Set a callback_base_url before sending a test event');
      }
      const event = await db.webhookEvent.create({
        data: {
          organizationId,
          type,
          data: {
            test: true,
            note: `A test ${type} event: your endpoint received it and verified its signature.`,
          },
        },
      });
      bus.publish('webhook.queued', { organizationId, eventId: event.id });
      return deliveryDto(event);
    },

    /** The delivery log, newest first, a page at a time. */
    async listDeliveries(organizationId: string, q: DeliveriesQuery) {
      const after = q.cursor ? readCursor(q.cursor) : undefined;
      const rows = await db.webhookEvent.findMany({
        where: {
          organizationId,
          ...(q.status ? { status: q.status } : {}),
          ...(q.event ? { type: q.event } : {}),
          ...(after
            ? {
                OR: [
                  { createdAt: { lt: after.createdAt } },
                  { createdAt: after.createdAt, id: { lt: after.id } },
                ],
              }
            : {}),
        },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: q.limit + 1,
      });
      const items = rows.slice(0, q.limit);
      const last = items.at(-1);
      return {
        items: items.map(deliveryDto),
        next_cursor: rows.length > q.limit && last ? cursorOf(last) : null,
      };
    },

    /** One delivery with every attempt, oldest first. */
    async getDelivery(organizationId: string, id: string) {
      const event = await requireEvent(organizationId, id);
      const attempts = await db.webhookAttempt.findMany({
        where: { eventId: event.id },
        orderBy: { attempt: 'asc' },
      });
      return { ...deliveryDto(event), data: event.data, attempt_log: attempts.map(attemptDto) };
    },

    /**
     * Sends a delivery again, whatever its state: a new round of attempts from now (a failed one
     * gets its full retry schedule again). Its conversation's later events wait behind it.
     */
    async redeliver(organizationId: string, id: string) {
      const event = await requireEvent(organizationId, id);
      const updated = await db.webhookEvent.update({
        where: { id: event.id },
        data: { status: 'pending', attempts: 0, nextAttemptAt: new Date(), deliveredAt: null },
      });
      bus.publish('webhook.queued', { organizationId, eventId: updated.id });
      return deliveryDto(updated);
    },
  };
}
