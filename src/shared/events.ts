import { EventEmitter } from 'node:events';
import type { ConversationMode, Message, UserRole } from '../generated/prisma/client.js';

/**
 * Domain events, published by services after their transaction commits. Listeners turn them
 * into effects (Socket.IO rooms, push, webhooks, bot), one listener per channel.
 */
export type DomainEvents = {
  'organization.created': { organizationId: string };
  /** Sockets of that session must be disconnected. */
  'agent.logged_out': { userId: string; sessionId: string };
  /** An admin deactivated the agent: all their sockets must be disconnected. */
  'agent.deactivated': { organizationId: string; userId: string };
  /**
   * The agent's role or routing keys changed: what they see now. Their live sockets move to the
   * queue rooms that match and drop the conversations they may no longer see.
   */
  'agent.access_changed': {
    organizationId: string;
    userId: string;
    role: UserRole;
    routingKeys: string[];
  };
  /**
   * The organization was suspended: every socket of its agents and end users must be
   * disconnected. The ids name the rooms to reach (`user:{id}`, `enduser:{id}`) on every node.
   */
  'organization.suspended': { organizationId: string; userIds: string[]; endUserIds: string[] };
  /** The tenant's widget public key changed: sessions made with the old one end (on every node). */
  'widget_key.rotated': { organizationId: string };
  /** A relay visitor session was created (usage counts it). */
  'visitor_session.created': { organizationId: string; sessionId: string; conversationId: string };
  /**
   * An identity mode became stricter: these end users' sockets are disconnected, so they prove
   * themselves again under it on their next join.
   */
  'identity.tightened': {
    organizationId: string;
    endUserIds: string[];
    /** Only the sockets that proved them without a hash (the user was just verified). */
    unprovenOnly?: boolean;
  };
  /**
   * An embed token or a channel was revoked: the sockets of the end users whose conversations it
   * carried (`enduser:{id}`) must be disconnected.
   */
  'access.revoked': {
    organizationId: string;
    channelId: string;
    embedTokenId: string | null;
    endUserIds: string[];
  };
  /** A message was stored (never published for an idempotent retry). */
  'message.created': {
    message: Message;
    conversation: {
      id: string;
      organizationId: string;
      channelId: string;
      endUserId: string;
      endUserExternalId: string;
      routingKey: string | null;
      /** `bot`: the bot answers and the humans' queue does not see it yet; `human`: the queue. */
      mode: ConversationMode;
      /**
       * Who held the open session when the message was stored (null: nobody, it waits in the
       * queue); absent when not known (the paths other than the batch writer).
       */
      holderId?: string | null;
    };
    /**
     * True when this message opened a new session (the first of a support interaction); on a
     * redelivery, when it opened the session and that session is still open.
     */
    sessionOpened: boolean;
    /**
     * False when the statement that stored the message found its organization without a webhook
     * URL, so no webhook was queued with it; absent when not known (the worker looks then).
     */
    webhooks?: false;
    /**
     * True when a retried send found the message stored: it is published again because the first
     * publication may never have happened. Listeners must be idempotent by message id.
     */
    redelivered: boolean;
  };
  'conversation.assigned': {
    organizationId: string;
    conversationId: string;
    /** The conversation's queue (routing key), so listeners can reach only the agents who see it. */
    routingKey?: string | null;
    sessionId: string;
    agentId: string;
    /**
     * Who held the open session before: null when it waited in the queue; absent when this
     * assignment opened the session (an agent wrote first), so it was never in the queue.
     */
    previousAgentId?: string | null;
    assignedAt: Date;
    /**
     * True when a retried send published it again: the first publication may never have happened
     * (listeners must not count it twice).
     */
    redelivered?: true;
  };
  /**
   * The open session went back to the queue (nobody on it). `agentId` held it; `releasedBy` is
   * who released it (the holder, or an admin or owner).
   */
  'conversation.released': {
    organizationId: string;
    conversationId: string;
    /** The conversation's queue (routing key), so listeners can reach only the agents who see it. */
    routingKey: string | null;
    sessionId: string;
    agentId: string;
    releasedBy: string;
    releasedAt: Date;
  };
  /**
   * The open session moved from one agent to another in one step (never through the queue).
   * `transferredBy` is the previous holder or an admin or owner.
   */
  'conversation.transferred': {
    organizationId: string;
    conversationId: string;
    /** The conversation's queue (routing key), so listeners can reach only the agents who see it. */
    routingKey: string | null;
    sessionId: string;
    fromAgentId: string;
    toAgentId: string;
    transferredBy: string;
    transferredAt: Date;
  };
  'conversation.resolved': {
    organizationId: string;
    conversationId: string;
    /** The conversation's queue (routing key), so listeners can reach only the agents who see it. */
    routingKey?: string | null;
    sessionId: string;
    agentId: string;
    /** Who held the session when it was resolved (null: nobody, it waited in the queue). */
    holderId?: string | null;
    tags: string[];
    resolvedAt: Date;
  };
  'conversation.tagged': {
    organizationId: string;
    conversationId: string;
    /** The conversation's queue (routing key), so listeners can reach only the agents who see it. */
    routingKey?: string | null;
    sessionId: string;
    tags: string[];
    /** When they were set: an inbox keeps the latest, whichever of the answer and the event comes first. */
    taggedAt: Date;
  };
  /**
   * A typing indicator started (relayed) or ended on this node; `typist` is
   * `{sender_type}:{sender id}`. The relay WebSocket tells its visitors about agents' typing.
   */
  'typing.changed': { conversationId: string; typist: string; state: 'start' | 'stop' };
  /** A visitor rated a resolved session (or changed their rating): inboxes show it. */
  'conversation.rated': {
    organizationId: string;
    conversationId: string;
    routingKey: string | null;
    rating: { session_id: string; score: number; comment: string | null; updated_at: string };
  };
  /** A visitor left an email to be answered at (unverified): inboxes show it. */
  'conversation.contact_left': {
    organizationId: string;
    conversationId: string;
    routingKey: string | null;
    email: string;
  };
  'messages.read': {
    organizationId: string;
    conversationId: string;
    readerId: string;
    readerType: 'end_user' | 'agent';
    messageIds: string[];
    readAt: Date;
  };
  /** The recipient side's clients received the conversation's messages up to `seq` (batched). */
  'messages.delivered': {
    organizationId: string;
    conversationId: string;
    recipientType: 'end_user' | 'agent';
    seq: number;
    deliveredAt: Date;
  };
  /** A ticket was created or changed (status, priority, subject, assignee). */
  'ticket.changed': {
    organizationId: string;
    ticketId: string;
    routingKey: string | null;
    kind: 'created' | 'updated';
  };
  /**
   * A conversation went from the bot to the humans: it is in its queue now, waiting, with its
   * ticket. `content` is the visitor's last message (what the queue's row shows).
   */
  'conversation.escalated': {
    organizationId: string;
    conversationId: string;
    routingKey: string | null;
    sessionId: string;
    ticketId: string;
    reason: string;
    content: string;
  };
  /** A webhook was queued (a test event) or set to be sent again: a worker should look now. */
  'webhook.queued': { organizationId: string; eventId: string };
  /** An agent changed a visitor's name or email (the visitor panel). */
  'visitor.updated': {
    organizationId: string;
    conversationId: string;
    routingKey: string | null;
    endUserId: string;
    displayName: string | null;
    email: string | null;
  };
};

export type EventName = keyof DomainEvents;

export interface EventBus {
  publish<E extends EventName>(event: E, payload: DomainEvents[E]): void;
  subscribe<E extends EventName>(
    event: E,
    listener: (payload: DomainEvents[E]) => void | Promise<void>,
  ): () => void;
}

/** In-process bus. A listener's failure is reported to `onError` and never reaches the publisher. */
export function createEventBus(onError: (err: unknown, event: EventName) => void): EventBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(100);
  return {
    publish(event, payload) {
      emitter.emit(event, payload);
    },
    subscribe(event, listener) {
      const wrapped = (payload: DomainEvents[typeof event]) => {
        try {
          Promise.resolve(listener(payload)).catch((err: unknown) => onError(err, event));
        } catch (err) {
          onError(err, event);
        }
      };
      emitter.on(event, wrapped);
      return () => emitter.off(event, wrapped);
    },
  };
}
