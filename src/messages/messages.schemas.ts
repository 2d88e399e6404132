import { z } from 'zod';
import { externalId, jsonText, senderType, text, userHash, uuid } from '../shared/validation.js';

/** Only http(s) URLs ever reach a page: no javascript:, data: or relative URLs. */
export const httpUrl = text()
  .trim()
  .max(2048)
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'https:' || u.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL');

const label = text().trim().min(1).max(80);
const value = text().trim().min(1).max(256);
const button = z.strictObject({ label, value });

export const richMediaSchemas = {
  image: z.strictObject({ url: httpUrl, alt: text().max(300).optional() }),
  file: z.strictObject({
    url: httpUrl,
    filename: text().trim().min(1).max(255),
    size: z
      .number()
      .int()
      .min(0)
      .max(2 ** 40)
      .optional(),
    mime_type: text().trim().max(255).optional(),
  }),
  quick_button: z.strictObject({ buttons: z.array(button).min(1).max(10) }),
  carousel: z.strictObject({
    cards: z
      .array(
        z.strictObject({
          image_url: httpUrl.optional(),
          title: text().trim().min(1).max(80),
          subtitle: text().max(200).optional(),
          buttons: z.array(button).max(5).default([]),
        }),
      )
      .min(1)
      .max(10),
  }),
  dropdown: z.strictObject({
    placeholder: text().max(80).optional(),
    options: z.array(button).min(1).max(50),
  }),
} as const;

/**
 * A text message that answers a quick button, a carousel button or a dropdown option: `content`
 * is the label the person chose (what everyone reads), `rich_media.value` the option's value
 * (what a bot or integration acts on). Optional, so plain text stays `rich_media: null`.
 */
export const replySchema = z.strictObject({ value });

export const contentTypes = ['text', 'image', 'file', 'quick_button', 'carousel', 'dropdown'] as const;
export type ContentTypeName = (typeof contentTypes)[number];

export const MAX_CONTENT = 5000;

/**
 * The send_message payload of the spec, plus the optional idempotency key `client_msg_id`.
 * Rich media is checked against its content type once, here, and comes out typed.
 */
export const sendMessageSchema = z
  .object({
    conversation_id: uuid,
    content: text().max(MAX_CONTENT, `must be at most ${MAX_CONTENT} characters`).default(''),
    content_type: z
      .enum(contentTypes, { error: `must be one of ${contentTypes.join(', ')}` })
      .default('text'),
    // Stored as jsonb whole: every string in it, wherever nested, must be storable text.
    rich_media: jsonText.optional().nullable(),
    sender_type: senderType,
    external_id: externalId.optional(),
    user_hash: userHash.optional(),
    client_msg_id: text().trim().min(1).max(100).optional(),
    /** An internal note: agents only, never shown to the end user. */
    internal: z.boolean({ error: 'must be true or false' }).default(false),
  })
  .transform((m, ctx) => {
    if (m.internal && m.sender_type !== 'agent')
      ctx.addIssue({ code: 'custom', path: ['internal'], message: 'only agents write internal notes' });
    if (m.content_type === 'text') {
      const reply = m.rich_media == null ? null : replySchema.safeParse(m.rich_media);
      if (reply && !reply.success)
        ctx.addIssue({
          code: 'custom',
          path: ['rich_media'],
          message: 'for text, only { value } of a chosen option is allowed',
        });
      if (!m.content.trim())
        ctx.addIssue({ code: 'custom', path: ['content'], message: 'must not be empty' });
      return { ...m, rich_media: reply?.success ? (reply.data as Record<string, unknown>) : null };
    }
    const r = richMediaSchemas[m.content_type].safeParse(m.rich_media);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      ctx.addIssue({
        code: 'custom',
        path: ['rich_media', ...issue.path.map(String)],
        message: issue.message,
      });
      return z.NEVER;
    }
    return { ...m, rich_media: r.data as Record<string, unknown> };
  });
export type SendMessageInput = z.input<typeof sendMessageSchema>;
export type SendMessage = z.output<typeof sendMessageSchema>;

/** Marks messages read; `external_id` proves an end user on the socket (agents have the session). */
export const markReadSchema = z.object({
  conversation_id: uuid,
  message_ids: z.array(uuid).min(1).max(500),
  external_id: externalId.optional(),
  user_hash: userHash.optional(),
});
export type MarkRead = Pick<z.output<typeof markReadSchema>, 'conversation_id' | 'message_ids'>;

/**
 * Ours: `message_delivered`, a receipt: this client holds the conversation's messages up to `seq`.
 * Clients send it throttled; the server coalesces them further (messages/delivery.ts).
 */
export const deliveredSchema = z.object({
  conversation_id: uuid,
  seq: z.number().int().min(1).max(2_147_483_647),
  external_id: externalId.optional(),
  user_hash: userHash.optional(),
});

export const historyQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export type HistoryQuery = z.output<typeof historyQuerySchema>;
