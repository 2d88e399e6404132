import { messageEventDto } from '../../conversations/conversations.dto.js';
import { deliveredSchema, markReadSchema, sendMessageSchema } from '../../messages/messages.schemas.js';
import { AppError } from '../../shared/errors.js';
import { convRoom } from '../rooms.js';
import { Dropped, type HandlerDeps, type On } from './socket.context.js';

/** Writing and reading messages: send_message, mark_read, message_delivered. */
export function registerMessageHandlers(
  on: On,
  { services, limiter }: Pick<HandlerDeps, 'services' | 'limiter'>,
) {
  // Validation first (the message service's schema, rich media included, in one pass), then who
  // is sending, then the end-user limit, then the store.
  on('send_message', sendMessageSchema, async (ctx, input) => {
    if (input.sender_type === 'end_user') {
      const actor = await ctx.requireEndUser(input.conversation_id, input.external_id, input.user_hash);
      const quota = await limiter.take(actor.organizationId, actor.externalId);
      if (!quota.allowed) throw new Dropped('Too many messages; this one was dropped', quota.retryAfterS);
      // The organization's minute (rate_limit_per_min): over it, dropped the same way.
      const tenant = await services.quota
        ?.take('messages', actor.organizationId, actor.rateLimitPerMin)
        .catch(async (err: unknown) => {
          await quota.refund();
          const retryAfter = err instanceof AppError ? err.details?.retry_after : undefined;
          if (typeof retryAfter !== 'number') throw err;
          throw new Dropped('Too many messages for this organization; this one was dropped', retryAfter);
        });
      const refund = () => Promise.all([quota.refund(), tenant?.refund()]);
      const { message, duplicate } = await services.messages
        .send(actor, input)
        .catch(async (err: unknown) => {
          await refund();
          throw err;
        });
      // A retry of a stored message was counted when it was stored.
      if (duplicate) await refund();
      await ctx.joinAsEndUser(actor);
      return { message: messageEventDto(message), duplicate };
    }
    const agent = await ctx.requireAgent();
    const { message, duplicate } = await services.messages.send(agent, input);
    await ctx.joinOnce([convRoom(input.conversation_id)]);
    return { message: messageEventDto(message), duplicate };
  });

  on('mark_read', markReadSchema, async (ctx, input) => {
    // The reader is the end user if this socket speaks for one here, else the agent.
    const asEndUser = input.external_id !== undefined || ctx.speaksForEndUser(input.conversation_id);
    const actor = asEndUser
      ? await ctx.requireEndUser(input.conversation_id, input.external_id, input.user_hash)
      : await ctx.requireAgent();
    // As receipts: a socket in the conversation's room was checked when it joined.
    const joined = ctx.socket.rooms.has(convRoom(input.conversation_id));
    const result = await services.messages.markRead(
      actor,
      { conversation_id: input.conversation_id, message_ids: input.message_ids },
      joined,
    );
    return { ...result };
  });

  // Receipts are frequent: a socket already in the conversation's room was checked when it joined.
  on('message_delivered', deliveredSchema, async (ctx, input) => {
    const asEndUser = input.external_id !== undefined || ctx.speaksForEndUser(input.conversation_id);
    const actor = asEndUser
      ? await ctx.requireEndUser(input.conversation_id, input.external_id, input.user_hash)
      : await ctx.requireAgent();
    const joined = ctx.socket.rooms.has(convRoom(input.conversation_id));
    return services.messages.delivered(actor, input.conversation_id, input.seq, joined);
  });
}
