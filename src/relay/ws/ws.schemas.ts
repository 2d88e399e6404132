import { z } from 'zod';
import { sendMessageSchema } from '../../messages/messages.schemas.js';
import { text, uuid } from '../../shared/validation.js';

// The visitor WebSocket's frames (`/api/v1/ws/widget`): JSON objects discriminated by `type`.
// Unknown extra fields are ignored, so the document's examples parse unchanged.

const seq = z.number().int().min(0).max(2_147_483_647);

/** `?last_seq=` (query text) or a resume frame's number. */
const seqParam = z.coerce.number().int().min(0).max(2_147_483_647);

/** The upgrade's query: the token, and optionally where the client's copy ends (resume). */
export const connectQuerySchema = z.object({
  token: text().min(1).max(4096),
  last_seq: seqParam.optional(),
  last_message_id: uuid.optional(),
});
export type ConnectQuery = z.infer<typeof connectQuerySchema>;

/**
 * `msg`: the visitor's message. `content`, `content_type` and `rich_media` are the Socket.IO
 * `send_message` fields, checked by the same schema (`sendMessageSchema`) once the gateway has
 * added the conversation and the sender; `client_msg_id` is required (the ack echoes it, and a
 * resend after a reconnect is stored once).
 */
export const msgFrame = z.object({
  type: z.literal('msg'),
  client_msg_id: text().trim().min(1).max(100),
  content: z.unknown().optional(),
  content_type: z.unknown().optional(),
  rich_media: z.unknown().optional(),
  // Passed on so the message schema refuses it (agents only), rather than dropped unseen.
  internal: z.unknown().optional(),
});

export const typingFrame = z.object({ type: z.literal('typing'), state: z.enum(['start', 'stop']) });

export const pingFrame = z.object({ type: z.literal('ping') });

/** Ours: replay what followed `last_seq` (or `last_message_id`), e.g. after a seq gap or `resync`. */
export const resumeFrame = z
  .object({ type: z.literal('resume'), last_seq: seq.optional(), last_message_id: uuid.optional() })
  .refine((f) => f.last_seq !== undefined || f.last_message_id !== undefined, {
    message: 'give last_seq or last_message_id',
    path: ['last_seq'],
  });

/** Ours: a receipt, the client holds the conversation's messages up to `seq` (send it throttled). */
export const deliveredFrame = z.object({ type: z.literal('delivered'), seq: seq.min(1) });

/** Ours: the visitor saw these messages (visible, tab focused). */
export const readFrame = z.object({ type: z.literal('read'), message_ids: z.array(uuid).min(1).max(500) });

export const visitorFrameSchema = z.discriminatedUnion(
  'type',
  [msgFrame, typingFrame, pingFrame, resumeFrame, deliveredFrame, readFrame],
  {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? 'type must be one of msg, typing, ping, resume, delivered, read'
        : undefined,
  },
);
export type VisitorFrame = z.infer<typeof visitorFrameSchema>;

/** A `msg` frame as the message service's input, validated by its own schema. */
export function sendInputOf(frame: z.infer<typeof msgFrame>, conversationId: string) {
  return sendMessageSchema.parse({
    conversation_id: conversationId,
    sender_type: 'end_user',
    client_msg_id: frame.client_msg_id,
    content: frame.content,
    content_type: frame.content_type,
    rich_media: frame.rich_media,
    internal: frame.internal,
  });
}
