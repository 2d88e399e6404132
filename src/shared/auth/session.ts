import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import session, { Store, type SessionData } from 'express-session';
import type { Request, RequestHandler, Response } from 'express';
import type { Config } from '../../config.js';
import type { Db } from '../db.js';
import type { Redis } from '../redis.js';
import { agentActor, type AgentActor } from './actor.js';

export const SESSION_COOKIE = 'session';
const TTL_MS = 7 * 24 * 3600 * 1000;
/** A session id handed out before anything is stored (the login page's) is good for an hour. */
const ANONYMOUS_TTL_MS = 60 * 60 * 1000;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by the session middleware: CSRF tokens for forms shown before there is a session. */
      statelessCsrf?: StatelessCsrf;
    }
  }
}

/**
 * CSRF for a form shown before anyone signed in (the login page), with nothing stored: the token
 * is an HMAC of the session id in the client's signed `session` cookie. When the client has no
 * such cookie, a fresh id is signed into one (as express-session would) but no session row is
 * written; signing in starts a stored session with a new id. Another site can neither read the
 * token nor plant a cookie we signed, so this is a signed double-submit cookie.
 */
export type StatelessCsrf = {
  /** This client's token; sets the cookie (an id, nothing stored) when it has none of ours. */
  token(req: Request, res: Response): string;
  /** Whether `given` is the token of the session cookie the request carries. */
  verify(req: Request, given: string | undefined): boolean;
};

/** express-session's cookie format (cookie-signature): `s:<id>.<base64 HMAC-SHA256, unpadded>`. */
const signature = (secret: string, id: string) =>
  createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '');

const sameText = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * The id in the request's `session` cookie when we signed it (stored or not) with any of
 * `secrets` (the current one, then SESSION_SECRET_PREVIOUS), else undefined.
 */
function signedIdOf(req: IncomingMessage, secrets: readonly string[]): string | undefined {
  // The first cookie of the name counts, as in express-session (the `cookie` package).
  const pair = req.headers.cookie
    ?.split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  if (!pair) return undefined;
  let value: string;
  try {
    value = decodeURIComponent(pair.slice(SESSION_COOKIE.length + 1));
  } catch {
    return undefined;
  }
  const dot = value.lastIndexOf('.');
  if (!value.startsWith('s:') || dot < 3) return undefined;
  const id = value.slice(2, dot);
  const sig = value.slice(dot + 1);
  return secrets.some((secret) => sameText(sig, signature(secret, id))) ? id : undefined;
}

/** `secrets[0]` signs; every one of them verifies (a rotation's previous secret). */
function createStatelessCsrf(secrets: readonly string[]): StatelessCsrf {
  const secret = secrets[0]!;
  const issued = new WeakMap<Request, string>();
  const tokenOf = (key: string, id: string) =>
    createHmac('sha256', key).update(`login-csrf:${id}`).digest('hex');
  return {
    token(req, res) {
      let id = signedIdOf(req, secrets) ?? issued.get(req);
      if (!id) {
        id = randomBytes(24).toString('base64url');
        issued.set(req, id);
        res.cookie(SESSION_COOKIE, `s:${id}.${signature(secret, id)}`, {
          httpOnly: true,
          sameSite: 'lax',
          // As express-session's `secure: 'auto'`: Secure when the request came over TLS.
          secure: req.secure,
          maxAge: ANONYMOUS_TTL_MS,
          path: '/',
        });
      }
      return tokenOf(secret, id);
    },
    verify(req, given) {
      const id = signedIdOf(req, secrets);
      return (
        id !== undefined &&
        typeof given === 'string' &&
        secrets.some((key) => sameText(given, tokenOf(key, id)))
      );
    },
  };
}

type SessionRow = {
  data: unknown;
  expires_at: Date;
  user_id: string | null;
  organization_id: string | null;
  role: AgentActor['role'] | null;
  display_name: string | null;
  routing_keys: string[] | null;
};

/** The agent a session names, as read with it (`agent` null: they may not act). */
type SignedInAgent = { userId: string; agent: AgentActor | null };

const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

/** Where sessions lived before PostgreSQL became their store of record (connect-redis's keys). */
const LEGACY_REDIS_PREFIX = 'sb:sess:';

/**
 * express-session store on the `http_sessions` table: PostgreSQL is the sessions' store of record,
 * so a Redis restart or outage logs nobody out. A session read is one statement (the row by its
 * primary key, with the agent it names), made only on HTTP requests and socket handshakes, never
 * per message, so no cache is kept in front.
 * `legacyRedis`: a session not found here is looked up once where earlier versions kept it, and
 * moved here, so upgrading logs nobody out either.
 */
const TOUCH_EVERY_MS = 60_000;
const TOUCHED_MAX = 10_000;

export class DatabaseSessionStore extends Store {
  private readonly pruneTimer: NodeJS.Timeout;
  constructor(
    private readonly db: Db,
    private readonly legacyRedis?: Redis,
  ) {
    super();
    this.pruneTimer = setInterval(() => void this.prune(), 15 * 60 * 1000);
    this.pruneTimer.unref();
  }

  private expiry(sess: SessionData) {
    return sess.cookie?.expires ? new Date(sess.cookie.expires) : new Date(Date.now() + TTL_MS);
  }

  /** The agent each loaded session names, read with it, until express-session makes it the request's. */
  private readonly readWith = new WeakMap<SessionData, SignedInAgent>();
  /** The agent read with each request's session: see `agentReadWith`. */
  private readonly byRequest = new WeakMap<IncomingMessage, SignedInAgent>();

  /**
   * One statement reads the session and the agent it names (active, of an active organization),
   * so an agent's request costs one round trip before its route, not three (session, user,
   * organization): the agent is as fresh as the session.
   */
  override get(sid: string, cb: (err: unknown, session?: SessionData | null) => void) {
    this.db.$queryRaw<SessionRow[]>`
      SELECT s.data, s.expires_at, u.id AS user_id, u.organization_id, u.role::text AS role,
             u.display_name, u.routing_keys
      FROM http_sessions s
      LEFT JOIN users u
        ON u.id = CASE WHEN s.data #>> '{passport,user}' ~* ${UUID_PATTERN}
                       THEN (s.data #>> '{passport,user}')::uuid END
       AND u.status = 'active'
       AND EXISTS (SELECT 1 FROM organizations o WHERE o.id = u.organization_id AND o.status = 'active')
      WHERE s.id = ${sid}`
      .then(async ([row]) => {
        if (!row) return this.fromLegacy(sid);
        if (!(row.expires_at > new Date())) return null;
        const sess = row.data as unknown as SessionData;
        const named = (sess as { passport?: { user?: unknown } }).passport?.user;
        if (typeof named === 'string' && sess && typeof sess === 'object') {
          this.readWith.set(sess, {
            userId: named,
            agent:
              row.user_id === null
                ? null
                : agentActor({
                    userId: row.user_id,
                    organizationId: row.organization_id!,
                    role: row.role!,
                    displayName: row.display_name!,
                    routingKeys: row.routing_keys ?? [],
                  }),
          });
        }
        return sess;
      })
      .then((sess) => cb(null, sess))
      .catch(cb);
  }

  override createSession(req: Request, sess: SessionData) {
    const read = this.readWith.get(sess);
    if (read) this.byRequest.set(req, read);
    return super.createSession(req, sess);
  }

  /**
   * The agent `userId` as read with this request's session: their actor, null when they may not
   * act (gone, deactivated, organization suspended), undefined when not read with it (ask then).
   */
  agentReadWith(req: IncomingMessage, userId: string): AgentActor | null | undefined {
    const read = this.byRequest.get(req);
    return read && read.userId === userId ? read.agent : undefined;
  }

  private async fromLegacy(sid: string): Promise<SessionData | null> {
    if (!this.legacyRedis) return null;
    const raw = await this.legacyRedis.get(LEGACY_REDIS_PREFIX + sid).catch(() => null);
    if (!raw) return null;
    const sess = JSON.parse(raw) as SessionData;
    await new Promise<void>((resolve, reject) =>
      this.set(sid, sess, (err) => (err ? reject(err) : resolve())),
    );
    await this.legacyRedis.del(LEGACY_REDIS_PREFIX + sid).catch(() => 0);
    return sess;
  }

  override set(sid: string, sess: SessionData, cb?: (err?: unknown) => void) {
    const data = JSON.parse(JSON.stringify(sess));
    const expiresAt = this.expiry(sess);
    this.db.httpSession
      .upsert({ where: { id: sid }, create: { id: sid, data, expiresAt }, update: { data, expiresAt } })
      .then(() => cb?.())
      .catch((err: unknown) => cb?.(err));
  }

  override destroy(sid: string, cb?: (err?: unknown) => void) {
    this.touched.delete(sid);
    this.db.httpSession
      .deleteMany({ where: { id: sid } })
      .then(() => cb?.())
      .catch((err: unknown) => cb?.(err));
  }

  /** When this node last pushed each session's expiry forward (bounded: cleared when full). */
  private readonly touched = new Map<string, number>();

  /**
   * Pushes the expiry forward at most once per `TOUCH_EVERY_MS` per session and node, not a write
   * on every request an agent makes (the expiry is days away; a minute of drift changes nothing).
   */
  override touch(sid: string, sess: SessionData, cb?: (err?: unknown) => void) {
    const now = Date.now();
    const last = this.touched.get(sid);
    if (last !== undefined && now - last < TOUCH_EVERY_MS) return void cb?.();
    if (this.touched.size >= TOUCHED_MAX) this.touched.clear();
    this.touched.set(sid, now);
    this.db.httpSession
      .updateMany({ where: { id: sid }, data: { expiresAt: this.expiry(sess) } })
      .then(() => cb?.())
      .catch((err: unknown) => cb?.(err));
  }

  async prune() {
    await this.db.httpSession.deleteMany({ where: { expiresAt: { lt: new Date() } } }).catch(() => {});
  }

  close() {
    clearInterval(this.pruneTimer);
  }
}

/**
 * The agents' session: cookie `session`, httpOnly, SameSite=Lax, Secure when the request came
 * over TLS. Kept in the database, never in memory, so sessions survive restarts of the node and
 * of Redis and are shared by every node. The same middleware runs on Socket.IO. Only a session
 * with something in it is stored (`saveUninitialized: false`): the login page stores nothing
 * (its CSRF token is `req.statelessCsrf`'s), so anonymous visits cannot fill the table.
 */
export function createSessionMiddleware(deps: { config: Config; db: Db; redis?: Redis | undefined }): {
  middleware: RequestHandler;
  store: DatabaseSessionStore;
  close: () => void;
} {
  const store = new DatabaseSessionStore(deps.db, deps.redis);
  // The first secret signs new cookies; a cookie signed with SESSION_SECRET_PREVIOUS still counts.
  const secrets = [
    deps.config.sessionSecret,
    ...(deps.config.previousSessionSecret ? [deps.config.previousSessionSecret] : []),
  ];
  const statelessCsrf = createStatelessCsrf(secrets);
  const sessions = session({
    name: SESSION_COOKIE,
    secret: secrets,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    proxy: deps.config.trustProxy,
    cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: TTL_MS },
  });
  const middleware: RequestHandler = (req, res, next) => {
    req.statelessCsrf = statelessCsrf;
    return sessions(req, res, next);
  };
  return {
    middleware,
    store,
    close: () => store.close(),
  };
}
