import type { Message } from '../../generated/prisma/client.js';
import type { RichMedia } from '../../realtime/realtime.contract.js';
import { signRichMedia } from '../../attachments/urls.js';

// Server → visitor frames of the relay WebSocket (see README "Visitor WebSocket").

/** Who wrote a message, as the visitor sees it. */
export type Role = 'visitor' | 'agent' | 'bot' | 'system';

export type MsgFrame = {
  type: 'msg';
  id: string;
  seq: number;
  role: Role;
  sender_id: string;
  content_type: string;
  content: string;
  rich_media: RichMedia | null;
  client_msg_id: string | null;
  created_at: string;
};

export type ServerFrame =
  | MsgFrame
  | { type: 'typing'; role: Role; state: 'start' | 'stop' }
  | {
      type: 'ack';
      client_msg_id: string;
      id: string;
      seq: number;
      created_at: string;
      duplicate: boolean;
    }
  | { type: 'pong'; time: string }
  | {
      type: 'error';
      code: string;
      message: string;
      client_msg_id?: string;
      retry_after?: number;
    }
  | { type: 'resumed'; missed: number; last_seq: number; has_more: boolean }
  | { type: 'resync'; reason: string }
  /** Ours: an agent resolved the conversation; the visitor may rate it (`POST /visitor/rating`). */
  | { type: 'rating_request'; conversation_id: string; session_id: string; resolved_at: string }
  /**
   * Ours: the agents' side holds the conversation up to `seq` (so the visitor's messages up to it
   * are delivered). Batched, and only when `seq` grows.
   */
  | { type: 'delivered'; role: 'agent'; seq: number; delivered_at: string }
  /** Ours: an agent read these of the visitor's messages. */
  | { type: 'read'; role: 'agent'; message_ids: string[]; read_at: string }
  | ({ type: 'welcome' } & Record<string, unknown>);

export const roleOf = (senderType: string): Role =>
  senderType === 'end_user'
    ? 'visitor'
    : senderType === 'agent' || senderType === 'bot'
      ? senderType
      : 'system';

/** A stored message as a `msg` frame. */
export function msgFrame(m: Message): MsgFrame {
  return {
    type: 'msg',
    id: m.id,
    seq: m.seq,
    role: roleOf(m.senderType),
    sender_id: m.senderId,
    content_type: m.contentType,
    content: m.content,
    rich_media: signRichMedia(m.contentType, (m.richMedia ?? null) as RichMedia | null),
    client_msg_id: m.clientMsgId,
    created_at: m.createdAt.toISOString(),
  };
}

/** The typist's role from a typing tracker key (`{sender_type}:{id}`). */
export const typistRole = (typist: string): Role => roleOf(typist.slice(0, typist.indexOf(':')));

/** Close codes: the document's two, and ours (README "Visitor WebSocket"). */
export const CLOSE = {
  /** Invalid visitor token: bad signature, expired, not ours, not its session's tenant or key. */
  invalidToken: 4401,
  /** The session is unknown, ended, past its expiry, or its widget key was rotated. */
  sessionExpired: 4404,
  /** Tenant suspended, origin not allowed, channel revoked. */
  forbidden: 4403,
  /** A malformed upgrade query (last_seq, last_message_id). */
  badRequest: 4400,
  /** Too many frames in the window. */
  rateLimited: 4429,
  /** The client did not read: its unsent buffer passed WS_MAX_BUFFERED_BYTES. */
  slowConsumer: 4408,
  /** Frame above WS_MAX_PAYLOAD_BYTES (sent by the ws library). */
  tooBig: 1009,
  /** The node is restarting: reconnect (to any node). */
  restart: 1012,
  /** The database cannot be reached: reconnect later. */
  tryAgainLater: 1013,
  internal: 1011,
} as const;

/** The close code for a failure while authenticating a connection. */
export function closeCodeOf(code: string): number {
  switch (code) {
    case 'token/invalid':
    case 'token/expired':
      return CLOSE.invalidToken;
    case 'session/expired':
      return CLOSE.sessionExpired;
    case 'organization/suspended':
    case 'origin/forbidden':
    case 'channel/revoked':
      return CLOSE.forbidden;
    case 'request/invalid':
      return CLOSE.badRequest;
    case 'unavailable':
      return CLOSE.tryAgainLater;
    default:
      return CLOSE.internal;
  }
}
