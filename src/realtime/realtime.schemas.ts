import { z } from 'zod';
import { externalId, senderType, userHash, uuid } from '../shared/validation.js';
import type {
  ConversationRef,
  JoinConversationPayload,
  MarkReadPayload,
  MessageDeliveredPayload,
  SendMessagePayload,
  TransferConversationPayload,
  UserTypingPayload,
} from './realtime.contract.js';
import type { deliveredSchema, markReadSchema, sendMessageSchema } from '../messages/messages.schemas.js';

// Client → server payloads of the Socket.IO event reference. `send_message` and `mark_read` are
// validated by the message service's schemas (rich media included); these cover the rest.

export const conversationRef = z.object({ conversation_id: uuid });

/** End users prove themselves with `external_id`; agents by their session cookie. */
export const joinConversationSchema = z.object({
  conversation_id: uuid,
  external_id: externalId.optional(),
  user_hash: userHash.optional(),
  /** Catch-up: every message after this seq is sent again, in order (see the contract). */
  last_seq: z.number().int().min(0).max(2_147_483_647).optional(),
  /** Catch-up, older form: every message after this one. */
  last_message_id: uuid.optional(),
});

/** `transfer_conversation`: the conversation and the agent who takes it over. */
export const transferConversationSchema = z.object({ conversation_id: uuid, agent_id: uuid });

export const typingSchema = z.object({
  conversation_id: uuid,
  sender_type: senderType,
  external_id: externalId.optional(),
  user_hash: userHash.optional(),
});

export type JoinConversation = z.infer<typeof joinConversationSchema>;

// The contract's payloads are what these schemas accept: checked when compiling, nothing at runtime.
type Accepts<Input, Payload extends Input> = Payload;
type _ContractChecks = [
  Accepts<z.input<typeof conversationRef>, ConversationRef>,
  Accepts<z.input<typeof joinConversationSchema>, JoinConversationPayload>,
  Accepts<z.input<typeof typingSchema>, UserTypingPayload>,
  Accepts<z.input<typeof transferConversationSchema>, TransferConversationPayload>,
  Accepts<z.input<typeof sendMessageSchema>, SendMessagePayload>,
  Accepts<z.input<typeof markReadSchema>, MarkReadPayload>,
  Accepts<z.input<typeof deliveredSchema>, MessageDeliveredPayload>,
];
