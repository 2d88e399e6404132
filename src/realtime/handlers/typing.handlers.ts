import { typingSchema } from '../realtime.schemas.js';
import { convRoom } from '../rooms.js';
import { typistKey } from '../typing.js';
import type { HandlerDeps, On } from './socket.context.js';

/** Typing indicators: user_typing (a socket's indicators end when it disconnects: `realtime.socket.ts`). */
export function registerTypingHandlers(
  on: On,
  { services, typing }: Pick<HandlerDeps, 'services' | 'typing'>,
) {
  on('user_typing', typingSchema, async (ctx, input) => {
    let typist: string;
    if (input.sender_type === 'end_user') {
      const actor = await ctx.requireEndUser(input.conversation_id, input.external_id, input.user_hash);
      typist = typistKey('end_user', actor.externalId);
    } else {
      const agent = await ctx.requireAgent();
      if (!ctx.socket.rooms.has(convRoom(input.conversation_id))) {
        await services.conversations.requireVisible(agent, input.conversation_id);
      }
      typist = typistKey('agent', agent.userId);
    }
    // Coalesced: a burst of keystrokes relays one indicator per interval; the rest are acked and
    // dropped (the indicator is prolonged all the same).
    if (typing.touch(input.conversation_id, typist, ctx.socket.id)) {
      ctx.socket.to(convRoom(input.conversation_id)).emit('typing_indicator', {
        conversation_id: input.conversation_id,
        sender_type: input.sender_type,
      });
    }
    return {};
  });
}
