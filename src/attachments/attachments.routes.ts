import type { IncomingMessage } from 'node:http';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { agentOf } from '../auth/auth.middleware.js';
import type { Config } from '../config.js';
import { headerOrigin } from '../relay/cors.js';
import { reply, relayErrorHandler } from '../relay/relay.envelope.js';
import { createVisitorTokens } from '../relay/tokens.js';
import type { Services } from '../services.js';
import { AppError } from '../shared/errors.js';
import { valid, validate } from '../shared/http.js';
import type { Outage } from '../shared/outage.js';
import { createPublicLimiter, type PublicLimits } from '../shared/public-ratelimit.js';
import type { Redis } from '../shared/redis.js';
import { externalId, idParams, userHash, uuid } from '../shared/validation.js';
import {
  attachmentDto,
  cleanFilename,
  tooLarge,
  type AttachmentService,
  type UploadOwner,
} from './attachments.service.js';
import { INLINE_IMAGES } from './sniff.js';
import { verifySignature } from './urls.js';

/** Upload paths: their bodies are raw bytes, whatever Content-Type the browser gave them. */
const UPLOAD_PATH =
  /^\/api\/(conversations\/[^/]+\/attachments|v1\/attachments|v1\/relay\/conversations\/[^/]+\/attachments|widget\/attachments)\/?(\?|$)/;

/**
 * Before the JSON and form parsers: an upload's body is the file itself, so a `.json` or a form
 * sent as `application/json` must reach the upload route untouched. Its Content-Type is only a
 * hint, kept aside.
 */
export const rawUploadBodies: RequestHandler = (req, _res, next) => {
  if (req.method === 'POST' && UPLOAD_PATH.test(req.originalUrl)) {
    req.headers['x-upload-content-type'] = req.headers['content-type'];
    delete req.headers['content-type'];
  }
  next();
};

/**
 * The request body, at most `limit` bytes: a declared larger length is refused before a byte is
 * read, and a body that grows past the limit as it streams is refused the moment it does (the
 * rest is drained and dropped, so the client reads the 413).
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off('data', onData);
      chunks.length = 0;
      req.resume();
      reject(tooLarge(limit));
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

type UploadDeps = {
  attachments: AttachmentService;
  config: Config;
  redis: Redis | undefined;
  limits: PublicLimits;
};

/** Checks the size, reads, sniffs and stores one upload; the owner has been proven. */
async function upload(deps: UploadDeps, req: Request, owner: UploadOwner) {
  const limit = await deps.attachments.limitFor(owner.organizationId);
  return store(deps, owner, cleanFilename(req.get('x-filename')), await readBody(req, limit), limit);
}

/** Sniffs and stores bytes already read, within the tenant's limit. */
async function store(
  deps: Pick<UploadDeps, 'attachments' | 'config'>,
  owner: UploadOwner,
  filename: string,
  bytes: Buffer,
  /** The tenant's limit when the caller has already read it (the body was read against it). */
  known?: number,
) {
  const limit = known ?? (await deps.attachments.limitFor(owner.organizationId));
  if (bytes.length > limit) throw tooLarge(limit);
  return attachmentDto(await deps.attachments.create(owner, filename, bytes), deps.config.publicUrl);
}

/**
 * The signed API's upload (`POST /api/v1/relay/conversations/:id/attachments`): HMAC#1 signs the
 * file's bytes, so they are read into `rawBody` before the signature is checked — limited per
 * address first, and at most the deployment's ATTACHMENT_MAX_BYTES. Mounted before `requireSigned`.
 */
export function signedUploadBody(deps: UploadDeps): RequestHandler[] {
  const limit = limiterOf(deps, 'signed');
  return [
    limit(() => 'upload'),
    async (req, _res, next) => {
      (req as Request & { rawBody?: Buffer }).rawBody = await readBody(req, deps.config.attachments.maxBytes);
      next();
    },
  ];
}

/** The signed API's upload itself, after `requireSigned`: the backend's file into one of its conversations. */
export async function storeSignedUpload(
  deps: Pick<UploadDeps, 'attachments' | 'config'>,
  req: Request,
  conversation: { id: string; organizationId: string },
) {
  const bytes = (req as Request & { rawBody?: Buffer }).rawBody ?? Buffer.alloc(0);
  return store(
    deps,
    {
      organizationId: conversation.organizationId,
      conversationId: conversation.id,
      uploaderType: 'system',
      uploaderId: 'backend',
    },
    cleanFilename(req.get('x-filename')),
    bytes,
  );
}

const limiterOf = (deps: UploadDeps, who: string) =>
  createPublicLimiter(deps.redis, `${deps.config.realtime.redisPrefix}:attachments:${who}`, deps.limits);

/** `POST /api/conversations/:id/attachments` (behind `agentApi`): an agent's file into a conversation they may see. */
export function agentAttachmentRoutes(deps: UploadDeps & { services: Services }): Router {
  const router = Router();
  const limit = limiterOf(deps, 'agent');
  router.post(
    '/:id/attachments',
    validate('params', idParams),
    limit((_b, req) => `${agentOf(req).userId}`),
    async (req, res) => {
      const actor = agentOf(req);
      const { id } = valid(req, 'params', idParams);
      // The conversation rules of every agent read: another queue's or tenant's is not found.
      const conv = await deps.services.messages.requireConversation(actor, id);
      const dto = await upload(deps, req, {
        organizationId: conv.organizationId,
        conversationId: conv.id,
        uploaderType: 'agent',
        uploaderId: actor.userId,
      });
      res.status(201).json(dto);
    },
  );
  return router;
}

/** The relay's visitor CORS, plus the upload's own header. */
function uploadCors(services: Services): RequestHandler {
  return async (req, res, next) => {
    res.vary('Origin');
    const origin = headerOrigin(req.headers.origin);
    const preflight = req.method === 'OPTIONS';
    try {
      if (origin !== undefined && (await services.visitors.corsAllows(origin, undefined))) {
        res.setHeader('Access-Control-Allow-Origin', origin);
        res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
        if (preflight) {
          res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
          res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization, X-Filename');
          res.setHeader('Access-Control-Max-Age', '600');
        }
      }
    } catch (err) {
      if (!preflight) return next(err);
    }
    if (preflight) return void res.status(204).end();
    next();
  };
}

/** `POST /api/v1/attachments` (mounted there): a relay visitor's file into their session's conversation, in the envelope. */
export function relayAttachmentRoutes(
  deps: UploadDeps & { services: Services; now?: (() => number) | undefined; outage?: Outage | undefined },
): Router {
  const { services, config } = deps;
  const now = deps.now ?? Date.now;
  const tokens = createVisitorTokens({
    secrets: config.relay.tokenSecrets,
    ttlS: config.relay.tokenTtlS,
    now,
  });
  const router = Router();
  const limit = limiterOf(deps, 'relay');
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  router.use(uploadCors(services));
  router.post(
    '/',
    async (req, res, next) => {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      if (!m) throw new AppError('token/invalid', 'Send the visitor token as Authorization: Bearer <token>');
      const token = await tokens.verifyVisitorToken(m[1]!, { allowExpired: false });
      const { session, org, endUser } = await services.visitors.connect(
        token,
        headerOrigin(req.headers.origin),
        {
          now: new Date(now()),
          sessionTtlDays: config.relay.sessionTtlDays,
        },
      );
      res.locals.owner = {
        organizationId: org.id,
        conversationId: session.conversationId,
        uploaderType: 'end_user',
        uploaderId: endUser.externalId,
      } satisfies UploadOwner;
      next();
    },
    limit((_b, req) => (req.res!.locals.owner as UploadOwner).conversationId),
    async (req, res) => {
      reply(res, 201, await upload(deps, req, res.locals.owner as UploadOwner), 'Attachment stored.');
    },
  );
  router.use(relayErrorHandler(deps.outage));
  return router;
}

export const widgetQuery = z.object({
  conversation_id: uuid,
  external_id: externalId,
  user_hash: userHash.optional(),
});

/**
 * `POST /api/widget/attachments?conversation_id=…&external_id=…(&user_hash=…)`: the widget's and
 * the mobile WebView's end user, proven as the widget's history proves them (same origin: no CORS).
 */
export function widgetAttachmentRoutes(deps: UploadDeps & { services: Services }): Router {
  const router = Router();
  const limit = limiterOf(deps, 'widget');
  router.post(
    '/api/widget/attachments',
    validate('query', widgetQuery),
    limit((_b, req) => (req.query as { conversation_id?: string }).conversation_id),
    async (req, res) => {
      const q = valid(req, 'query', widgetQuery);
      const owner = await deps.services.conversations.requireForEndUser(q.conversation_id, {
        externalId: q.external_id,
        userHash: q.user_hash,
      });
      const dto = await upload(deps, req, {
        organizationId: owner.organizationId,
        conversationId: owner.conversationId,
        uploaderType: 'end_user',
        uploaderId: owner.externalId,
      });
      res.setHeader('Cache-Control', 'no-store');
      res.status(201).json(dto);
    },
  );
  return router;
}

/** `filename*` for any name, and a plain ASCII `filename` for old clients. */
function disposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/**
 * `GET /files/:id/:filename?exp=…&sig=…`: a signed, expiring link (403 otherwise). Every file is
 * served as a download (`Content-Disposition: attachment`): an `<img>` still renders a raster image,
 * but navigating to the link never shows it as a document on our origin. Raster images keep their
 * type (so `<img>` decodes them); everything else is `application/octet-stream`. `nosniff` and a
 * sandbox with nothing allowed stop any content from being run as a page.
 */
export function downloadRoutes(deps: { attachments: AttachmentService }): Router {
  const router = Router();
  router.get('/files/:id/:filename', async (req, res: Response) => {
    const id = uuid.safeParse(req.params.id);
    if (!id.success) throw new AppError('attachment/not_found', 'Attachment not found');
    if (!verifySignature(id.data, req.query.exp, req.query.sig)) {
      throw new AppError('attachment/signature', 'This link is not valid or has expired');
    }
    const { attachment, stream, size } = await deps.attachments.open(id.data);
    const image = INLINE_IMAGES.has(attachment.contentType);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    res.setHeader('Cache-Control', 'private, max-age=3600');
    res.setHeader('Content-Length', String(size));
    res.setHeader('Content-Disposition', disposition(attachment.filename));
    if (image) {
      res.setHeader('Content-Type', attachment.contentType);
      // The relay's web component shows it on the tenant's own site.
      res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    } else {
      res.setHeader('Content-Type', 'application/octet-stream');
    }
    stream.on('error', (err) => {
      req.log?.warn({ err }, 'attachment stream failed');
      res.destroy();
    });
    stream.pipe(res);
  });
  return router;
}
