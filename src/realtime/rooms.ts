import { createHash } from 'node:crypto';
import { seesAllQueues, type AgentActor } from '../shared/auth/actor.js';

// Room names of the spec, and the few internal ones other features rely on.

export const convRoom = (conversationId: string) => `conv:${conversationId}`;
export const queueRoom = (organizationId: string) => `org:${organizationId}:queue`;
export const presenceRoom = (organizationId: string) => `org:${organizationId}:presence`;
/** Every socket of one agent, on any node. */
export const userRoom = (userId: string) => `user:${userId}`;
/**
 * The agent's sockets whose actor changed (role, routing keys): each re-reads it before its next
 * event. A room, so the mark reaches their sockets on every node.
 */
export const refreshRoom = (userId: string) => `user:${userId}:refresh`;
/** Every socket of one end user (the push feature asks whether anyone is in it). */
export const endUserRoom = (endUserId: string) => `enduser:${endUserId}`;
/** The sockets that proved an end user without a `user_hash` (cut off when that user is verified). */
export const unprovenRoom = (endUserId: string) => `enduser:${endUserId}:unproven`;
/** The sockets opened with one login session; hashed so session ids never travel between nodes. */
export const sessionRoom = (sessionId: string) =>
  `sess:${createHash('sha256').update(sessionId).digest('hex').slice(0, 32)}`;

/**
 * The sockets of a queue room that asked for `conversation_activity_batch` (handshake
 * `auth: { activity: 'batch' }`) instead of one `conversation_activity` per message.
 */
export const activityBatchRoom = (queue: string) => `batch:${queue}`;

/**
 * The sockets of a queue room that take one `conversation_activity` per message (those that did
 * not ask for batches). A room of its own rather than the queue room minus its batch room: the
 * inbox takes batches, so most messages' activity goes to an empty room instead of building, per
 * message, the set of every batch socket to leave out.
 */
export const LIVE_ROOM_PREFIX = 'live:';
export const activityLiveRoom = (queue: string) => `${LIVE_ROOM_PREFIX}${queue}`;

/**
 * Agents restricted to some queues (routing keys) must not hear about the others, so they listen
 * to one sub-room per key instead of the organization's queue room; everyone else is in
 * `org:{org_id}:queue` itself.
 */
export const keyedQueueRoom = (organizationId: string, routingKey: string) =>
  `${queueRoom(organizationId)}:${routingKey}`;

/** The queue rooms an agent joins on `join_queue`. */
export function queueRoomsFor(agent: AgentActor): string[] {
  return seesAllQueues(agent)
    ? [queueRoom(agent.organizationId)]
    : agent.routingKeys.map((k) => keyedQueueRoom(agent.organizationId, k));
}

/** The queue rooms that hear about a conversation with this routing key. */
export function queueRoomsOf(organizationId: string, routingKey: string | null | undefined): string[] {
  return routingKey
    ? [queueRoom(organizationId), keyedQueueRoom(organizationId, routingKey)]
    : [queueRoom(organizationId)];
}
