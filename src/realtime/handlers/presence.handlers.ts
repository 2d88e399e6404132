import { presenceRoom } from '../rooms.js';
import type { HandlerDeps, On } from './socket.context.js';

/** Team presence: join_org_presence. */
export function registerPresenceHandlers(on: On, { presence }: Pick<HandlerDeps, 'presence'>) {
  on('join_org_presence', null, async (ctx) => {
    const agent = await ctx.requireAgent();
    await ctx.socket.join(presenceRoom(agent.organizationId));
    const online = await presence.online(agent.organizationId);
    // A newcomer learns the current state through the same event it will hear changes on.
    for (const agentId of online)
      ctx.socket.emit('agent_status_changed', { agent_id: agentId, status: 'online' });
    return { online };
  });
}
