import { Router, type Response } from 'express';
import type { User } from '../generated/prisma/client.js';
import { valid, validate } from '../shared/http.js';
import type { OperatorService } from './operators.service.js';
import type { OperatorTokens } from './operator.tokens.js';
import {
  createOperatorSchema,
  listOperatorsSchema,
  operatorParams,
  operatorTokenSchema,
  updateOperatorSchema,
} from './operators.schemas.js';
import type { SignedCaller } from './hmac.middleware.js';
import { reply } from './relay.envelope.js';

/** An operator as the signed API shows it (a placeholder email is not shown). */
export const operatorDto = (u: User) => ({
  external_id: u.externalId,
  id: u.id,
  display_name: u.displayName,
  email: u.email.endsWith('@operators.invalid') ? null : u.email,
  role: u.role,
  status: u.status,
  routing_keys: u.routingKeys,
  last_login_at: u.lastLoginAt?.toISOString() ?? null,
  created_at: u.createdAt.toISOString(),
});

/** `/api/v1/relay/operators*`, behind `requireSigned` (mounted by `backendRoutes`). */
export function operatorRoutes(deps: {
  operators: OperatorService;
  tokens: OperatorTokens;
  /** Where the inbox is (the token's `login_url`). */
  publicUrl: string;
  signed: (res: Response) => SignedCaller;
}) {
  const { operators, tokens, signed } = deps;
  const router = Router();

  router.post('/operators', validate('body', createOperatorSchema), async (req, res) => {
    const user = await operators.create(signed(res).org, valid(req, 'body', createOperatorSchema));
    reply(res, 201, operatorDto(user), 'Operator created.');
  });

  router.get('/operators', validate('query', listOperatorsSchema), async (req, res) => {
    const page = await operators.list(signed(res).org, valid(req, 'query', listOperatorsSchema));
    reply(res, 200, { items: page.items.map(operatorDto), next_cursor: page.nextCursor }, 'Operators.');
  });

  router.get('/operators/:external_id', validate('params', operatorParams), async (req, res) => {
    const { external_id } = valid(req, 'params', operatorParams);
    reply(res, 200, operatorDto(await operators.requireOperator(signed(res).org, external_id)), 'Operator.');
  });

  router.patch(
    '/operators/:external_id',
    validate('params', operatorParams),
    validate('body', updateOperatorSchema),
    async (req, res) => {
      const { external_id } = valid(req, 'params', operatorParams);
      const input = valid(req, 'body', updateOperatorSchema);
      reply(
        res,
        200,
        operatorDto(await operators.update(signed(res).org, external_id, input)),
        'Operator updated.',
      );
    },
  );

  for (const [action, active] of [
    ['deactivate', false],
    ['reactivate', true],
  ] as const) {
    router.post(`/operators/:external_id/${action}`, validate('params', operatorParams), async (req, res) => {
      const { external_id } = valid(req, 'params', operatorParams);
      const user = await operators.setActive(signed(res).org, external_id, active);
      reply(res, 200, operatorDto(user), active ? 'Operator reactivated.' : 'Operator deactivated.');
    });
  }
  // Single use, short-lived: the backend hands `login_url` to its user's browser at once.
  router.post(
    '/operators/:external_id/token',
    validate('params', operatorParams),
    validate('body', operatorTokenSchema),
    async (req, res) => {
      const { external_id } = valid(req, 'params', operatorParams);
      const { ttl_seconds } = valid(req, 'body', operatorTokenSchema);
      const { org } = signed(res);
      const user = await operators.requireActive(org, external_id);
      const { token, expiresAt } = await tokens.sign(
        { userId: user.id, tenantId: org.id, externalId: external_id },
        ttl_seconds,
      );
      reply(
        res,
        201,
        {
          operator_token: token,
          expires_at: expiresAt.toISOString(),
          login_url: `${deps.publicUrl}/auth/operator?token=${encodeURIComponent(token)}`,
        },
        'Operator token created. It signs the operator in once.',
      );
    },
  );
  return router;
}
