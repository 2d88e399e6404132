import { Router } from 'express';
import { agentApi, agentOf, requireRole } from '../auth/auth.middleware.js';
import { valid, validate } from '../shared/http.js';
import { idParams } from '../shared/validation.js';
import { botDto, channelDto, embedTokenDto } from './channels.dto.js';
import { botBodySchema, channelPatchSchema, embedTokenBodySchema } from './channels.schemas.js';
import type { ChannelService } from './channels.service.js';

/**
 * Bots, web-chat embed tokens and channel revocation, behind the dashboard: `/api/bots`,
 * `/api/embed-tokens`, `/api/channels/<id>/revoke|restore`.
 * Session cookie plus X-CSRFToken on writes; admins and owners only.
 */
export function channelRoutes({ channels }: { channels: ChannelService }): Router {
  const router = Router();
  const admin = [...agentApi, requireRole('admin')];
  const id = validate('params', idParams);
  const idOf = (req: Parameters<typeof valid>[0]) => valid(req, 'params', idParams).id;

  router.get('/api/bots', ...admin, async (req, res) => {
    res.json((await channels.listBots(agentOf(req))).map(botDto));
  });
  router.post('/api/bots', ...admin, validate('body', botBodySchema), async (req, res) => {
    const { name } = valid(req, 'body', botBodySchema);
    res.status(201).json(botDto(await channels.createBot(agentOf(req).organizationId, name)));
  });
  router.patch('/api/bots/:id', ...admin, id, validate('body', botBodySchema), async (req, res) => {
    const { name } = valid(req, 'body', botBodySchema);
    res.json(botDto(await channels.renameBot(agentOf(req), idOf(req), name)));
  });

  router.get('/api/embed-tokens', ...admin, async (req, res) => {
    res.json((await channels.listEmbedTokens(agentOf(req))).map(embedTokenDto));
  });
  // The token value is in this answer only; the database keeps its hash.
  router.post('/api/embed-tokens', ...admin, validate('body', embedTokenBodySchema), async (req, res) => {
    const actor = agentOf(req);
    const b = valid(req, 'body', embedTokenBodySchema);
    const { token, embedToken } = await channels.createEmbedToken({
      organizationId: actor.organizationId,
      botId: b.bot_id,
      name: b.name,
      allowedOrigins: b.allowed_origins,
      createdById: actor.userId,
    });
    res.status(201).json({ ...embedTokenDto(embedToken), token });
  });
  router.delete('/api/embed-tokens/:id', ...admin, id, async (req, res) => {
    res.json(embedTokenDto(await channels.revokeEmbedToken(agentOf(req), idOf(req))));
  });

  // A channel (a leaked mobile Channel ID, a web chat to shut) stops taking anyone in, and its
  // end users are disconnected; restore undoes it.
  router.post('/api/channels/:id/revoke', ...admin, id, async (req, res) => {
    res.json(channelDto(await channels.revokeChannel(agentOf(req), idOf(req))));
  });
  // The channel's own identity mode (null: the organization's).
  router.patch('/api/channels/:id', ...admin, id, validate('body', channelPatchSchema), async (req, res) => {
    const { identity_mode } = valid(req, 'body', channelPatchSchema);
    res.json(channelDto(await channels.setIdentityMode(agentOf(req), idOf(req), identity_mode)));
  });
  router.post('/api/channels/:id/restore', ...admin, id, async (req, res) => {
    res.json(channelDto(await channels.restoreChannel(agentOf(req), idOf(req))));
  });
  return router;
}
