import { z } from 'zod';
import { uuid } from '../shared/validation.js';

// Client → server payloads of the Socket.IO event reference. `send_message` itself is validated
// by the message service's schema (rich media included); these cover the rest.

const externalId = z.string().trim().min(1).max(255);
const senderType = z.enum(['end_user', 'agent'], { error: 'must be end_user or agent' });

export const conversationRef = z.object({ conversation_id: uuid });

/** End users prove themselves with `external_id`; agents by their session cookie. */
export const joinConversationSchema = z.object({
  conversation_id: uuid,
  external_id: externalId.optional(),
  /** Reconnect catch-up: every message after this one is sent again, in order. */
  last_message_id: uuid.optional(),
});

/** Only what is needed to authenticate; the message service validates the whole payload. */
export const sendEnvelopeSchema = z.object({
  conversation_id: uuid,
  sender_type: senderType,
  external_id: externalId.optional(),
});

export const typingSchema = z.object({
  conversation_id: uuid,
  sender_type: senderType,
  external_id: externalId.optional(),
});

export const markReadSchema = z.object({
  conversation_id: uuid,
  message_ids: z.array(uuid).min(1).max(500),
  external_id: externalId.optional(),
});

export type JoinConversation = z.infer<typeof joinConversationSchema>;
