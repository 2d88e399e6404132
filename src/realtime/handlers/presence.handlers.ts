import { presenceRoom } from '../rooms.js';
import type { HandlerDeps, SocketContext } from './socket.context.js';

/** Team presence: join_org_presence. */
export function registerPresenceHandlers(ctx: SocketContext, { presence }: Pick<HandlerDeps, 'presence'>) {
  const { socket, on } = ctx;

  on('join_org_presence', null, async () => {
    const agent = await ctx.requireAgent();
    await socket.join(presenceRoom(agent.organizationId));
    const online = await presence.online(agent.organizationId);
    // A newcomer learns the current state through the same event it will hear changes on.
    for (const agentId of online)
      socket.emit('agent_status_changed', { agent_id: agentId, status: 'online' });
    return { online };
  });
}
