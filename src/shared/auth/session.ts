import session, { Store, type SessionData } from 'express-session';
import type { RequestHandler } from 'express';
import type { Config } from '../../config.js';
import type { Db } from '../db.js';
import type { Redis } from '../redis.js';

export const SESSION_COOKIE = 'session';
const TTL_MS = 7 * 24 * 3600 * 1000;

/**
 * express-session store in Redis: `sb:sess:<sid>` holds the session as JSON and expires with
 * its cookie. Keys, values and expiry are connect-redis's, so sessions survive the switch from
 * it; connect-redis itself speaks only node-redis, not ioredis.
 */
export class RedisSessionStore extends Store {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'sb:sess:',
  ) {
    super();
  }

  /** Seconds left: until the cookie expires, else the default lifetime. */
  private ttl(sess: SessionData) {
    return sess.cookie?.expires
      ? Math.ceil((new Date(sess.cookie.expires).getTime() - Date.now()) / 1000)
      : TTL_MS / 1000;
  }

  override get(sid: string, cb: (err: unknown, session?: SessionData | null) => void) {
    this.redis
      .get(this.prefix + sid)
      .then((raw) => cb(null, raw ? (JSON.parse(raw) as SessionData) : null))
      .catch(cb);
  }

  override set(sid: string, sess: SessionData, cb?: (err?: unknown) => void) {
    const ttl = this.ttl(sess);
    if (ttl <= 0) return this.destroy(sid, cb);
    this.redis
      .set(this.prefix + sid, JSON.stringify(sess), 'EX', ttl)
      .then(() => cb?.())
      .catch((err: unknown) => cb?.(err));
  }

  override destroy(sid: string, cb?: (err?: unknown) => void) {
    this.redis
      .del(this.prefix + sid)
      .then(() => cb?.())
      .catch((err: unknown) => cb?.(err));
  }

  override touch(sid: string, sess: SessionData, cb?: (err?: unknown) => void) {
    this.redis
      .expire(this.prefix + sid, this.ttl(sess))
      .then(() => cb?.())
      .catch((err: unknown) => cb?.(err));
  }
}

/** express-session store on the `http_sessions` table, for deployments without Redis. */
export class DatabaseSessionStore extends Store {
  private readonly pruneTimer: NodeJS.Timeout;
  constructor(private readonly db: Db) {
    super();
    this.pruneTimer = setInterval(() => void this.prune(), 15 * 60 * 1000);
    this.pruneTimer.unref();
  }

  private expiry(sess: SessionData) {
    return sess.cookie?.expires ? new Date(sess.cookie.expires) : new Date(Date.now() + TTL_MS);
  }

  override get(sid: string, cb: (err: unknown, session?: SessionData | null) => void) {
    this.db.httpSession
      .findUnique({ where: { id: sid } })
      .then((row) =>
        cb(null, row && row.expiresAt > new Date() ? (row.data as unknown as SessionData) : null),
      )
      .catch(cb);
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
    this.db.httpSession
      .deleteMany({ where: { id: sid } })
      .then(() => cb?.())
      .catch((err: unknown) => cb?.(err));
  }

  override touch(sid: string, sess: SessionData, cb?: (err?: unknown) => void) {
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
 * over TLS. Kept in Redis when configured, else in the database; never in memory, so sessions
 * survive restarts and are shared by every node. The same middleware runs on Socket.IO.
 */
export function createSessionMiddleware(deps: { config: Config; db: Db; redis?: Redis | undefined }): {
  middleware: RequestHandler;
  store: Store;
  close: () => void;
} {
  const store = deps.redis ? new RedisSessionStore(deps.redis) : new DatabaseSessionStore(deps.db);
  const middleware = session({
    name: SESSION_COOKIE,
    secret: deps.config.sessionSecret,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    proxy: deps.config.trustProxy,
    cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: TTL_MS },
  });
  return {
    middleware,
    store,
    close: () => (store instanceof DatabaseSessionStore ? store.close() : undefined),
  };
}
