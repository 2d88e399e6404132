import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { Router, type Request, type RequestHandler } from 'express';
import { AppError } from '../shared/errors.js';
import { valid, validate } from '../shared/http.js';
import { paths } from '../shared/paths.js';
import { views } from '../shared/views.js';
import { widgetPageQuerySchema, widgetProfileSchema } from './widget.schemas.js';
import { frameAncestors, type HostContext, type WidgetService } from './widget.service.js';
import { createPublicLimiter, type PublicLimits } from '../shared/public-ratelimit.js';
import type { Redis } from '../shared/redis.js';

const buildDir = path.join(paths.public, 'build');
const FRAME_DESTS = new Set(['iframe', 'frame', 'embed', 'object']);

/** `?v=` for a built file: changes whenever the file does, so the file itself can be cached for long. */
function version(file: string): string {
  try {
    const s = statSync(path.join(paths.public, file));
    return createHash('sha256').update(`${s.size}:${s.mtimeMs}`).digest('hex').slice(0, 10);
  } catch {
    return '0';
  }
}

/** A browser bundle from public/build/, gzipped on the wire when the browser accepts it (built by scripts/build.mjs). */
function bundle(name: string, headers: Record<string, string>): RequestHandler {
  const file = path.join(buildDir, name);
  return (req, res, next) => {
    const gzip = req.acceptsEncodings('gzip', 'identity') === 'gzip' && existsSync(`${file}.gz`);
    res.vary('Accept-Encoding');
    res.set({ ...headers, 'Content-Type': 'text/javascript; charset=utf-8' });
    if (gzip) res.set('Content-Encoding', 'gzip');
    res.sendFile(gzip ? `${file}.gz` : file, { cacheControl: false }, (err) => {
      if (err && !res.headersSent) {
        res.removeHeader('Content-Encoding');
        next(new AppError('unavailable', 'The widget is not built: run `npm run build`'));
      }
    });
  };
}

function originOf(url: string | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
  } catch {
    return null;
  }
}

/**
 * Who embeds the page. An iframe navigation carries no `Origin` header, so the host page's origin
 * is the browser's `Referer` (sent cross-origin as the bare origin by default), else the `origin`
 * parameter embed.js adds (for pages with `Referrer-Policy: no-referrer`). Either can be forged by
 * a client that is not a browser; the guarantee is `frame-ancestors`, which the browser enforces.
 */
function hostOf(req: Request, paramOrigin: string | undefined): HostContext {
  const origin = originOf(req.get('referer')) ?? paramOrigin ?? null;
  const own = `${req.protocol}://${req.get('host')}`;
  return {
    origin,
    framed: FRAME_DESTS.has(req.get('sec-fetch-dest') ?? ''),
    self: origin === own,
  };
}

function widgetCsp(req: Request, ancestors: string): string {
  const host = req.get('host') ?? '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    // Rich media images come from anywhere on the web, but only over http(s).
    "img-src 'self' https: http:",
    // 'self' covers ws: in current browsers; the explicit entries are for older ones.
    `connect-src 'self' ws://${host} wss://${host}`,
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${ancestors}`,
  ].join('; ');
}

/** The public widget endpoints: the loader script, the page in the iframe, and its profile update. */
export function widgetRoutes({
  widget,
  redis,
  limits = { perTarget: 30, perIp: 300, windowS: 60 },
}: {
  widget: WidgetService;
  redis?: Redis | undefined;
  limits?: PublicLimits;
}): Router {
  const router = Router();
  // Every page view may create a visitor: bound how fast one client can do that, per token. Page
  // views (reloads, several tabs) are twice as many as the other public calls.
  const pageLimit = createPublicLimiter(redis, 'widget', {
    perTarget: limits.perTarget * 2,
    perIp: limits.perIp * 2,
    windowS: limits.windowS,
  })((_b, req) => req.query.embed_token);
  // The profile update may create a visitor too (a rename of one not seen yet).
  const profileLimit = createPublicLimiter(redis, 'profile', limits)((b) => b.embed_token);

  /**
   * The profile update is posted by the widget page itself, so a browser's `Origin` is this
   * server's; another site's is accepted only when the token lists it. No `Origin` (not a
   * browser) leaves the token and the rate limit as the guard.
   */
  const profileOrigin: RequestHandler = async (req, _res, next) => {
    const given = req.get('origin');
    if (given === undefined) return next();
    const origin = originOf(given);
    if (origin === `${req.protocol}://${req.get('host')}`) return next();
    const token = (req.body as { embed_token?: unknown } | undefined)?.embed_token;
    if (origin && typeof token === 'string') {
      const embedToken = await widget.authorize(token, { origin, framed: true, self: false });
      if (embedToken.allowedOrigins.includes(origin)) return next();
    }
    next(new AppError('origin/forbidden', `Origin ${origin ?? 'null'} may not update this widget's profile`));
  };

  // Loaded by every customer page: cross-origin, cached briefly (the URL never changes, fixes must
  // reach sites within minutes) and revalidated by ETag.
  router.get(
    '/chat-widget/embed.js',
    bundle('embed.js', {
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Access-Control-Allow-Origin': '*',
      'Cache-Control': 'public, max-age=300',
    }),
  );
  // <switchboard-chat>, the relay's web component, for one script tag on tenants' sites (the
  // console's snippet): cross-origin like embed.js.
  router.get(
    '/sdk/switchboard-chat.js',
    bundle('switchboard-chat.js', {
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Access-Control-Allow-Origin': '*',
      'Cache-Control': 'public, max-age=300',
    }),
  );
  // Linked by the widget page with ?v=<version>, so a given URL never changes.
  router.get(
    '/chat-widget/widget.js',
    bundle('widget.js', { 'Cache-Control': 'public, max-age=31536000, immutable' }),
  );

  router.get('/chat-widget', pageLimit, validate('query', widgetPageQuerySchema), async (req, res) => {
    const q = valid(req, 'query', widgetPageQuerySchema);
    const host = hostOf(req, q.origin);
    const { embedToken, endUser, conversation, history } = await widget.open({
      token: q.embed_token,
      externalId: q.session_id,
      userHash: q.user_hash,
      displayName: q.customer_name,
      host,
      visit: {
        page_url: q.page_url ?? null,
        referrer: q.referrer ?? null,
        user_agent: req.get('user-agent')?.slice(0, 500) ?? null,
        locale: req.get('accept-language')?.split(',')[0]?.trim().slice(0, 35) || null,
      },
    });
    const config = {
      conversation_id: conversation.id,
      external_id: endUser.externalId,
      user_hash: q.user_hash ?? null,
      embed_token: q.embed_token,
      customer_name: endUser.displayName,
      // The only origin the page will talk to with postMessage; never '*'.
      host_origin: host.origin,
      launcher: q.launcher === '1',
      history,
    };
    res.removeHeader('X-Frame-Options');
    res.set({
      'Content-Security-Policy': widgetCsp(req, frameAncestors(embedToken.allowedOrigins)),
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Cache-Control': 'no-store',
    });
    res.type('html').send(
      views.render('widget', {
        title: q.title ?? 'Chat with us',
        launcher: config.launcher,
        // A data block, never executed; `<` escaped so no message text can close the tag.
        configJson: JSON.stringify(config).replace(/</g, '\\u003c'),
        jsVersion: version('build/widget.js'),
        cssVersion: version('static/widget.css'),
      }),
    );
  });

  router.post(
    '/chat-widget/profile',
    profileLimit,
    validate('body', widgetProfileSchema),
    profileOrigin,
    async (req, res) => {
      const b = valid(req, 'body', widgetProfileSchema);
      await widget.rename({
        token: b.embed_token,
        externalId: b.session_id,
        userHash: b.user_hash,
        displayName: b.customer_name,
      });
      res.status(204).end();
    },
  );

  return router;
}
