import session, { Store, type SessionData } from 'express-session';
import type { RequestHandler } from 'express';
import type { Config } from '../../config.js';
import type { Db } from '../db.js';
import type { Redis } from '../redis.js';

export const SESSION_COOKIE = 'session';
const TTL_MS = 7 * 24 * 3600 * 1000;

/** Where sessions lived before PostgreSQL became their store of record (connect-redis's keys). */
const LEGACY_REDIS_PREFIX = 'sb:sess:';

/**
 * express-session store on the `http_sessions` table: PostgreSQL is the sessions' store of record,
 * so a Redis restart or outage logs nobody out. A session read is one primary-key lookup, made
 * only on HTTP requests and socket handshakes, never per message, so no cache is kept in front.
 * `legacyRedis`: a session not found here is looked up once where earlier versions kept it, and
 * moved here, so upgrading logs nobody out either.
 */
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

  override get(sid: string, cb: (err: unknown, session?: SessionData | null) => void) {
    this.db.httpSession
      .findUnique({ where: { id: sid } })
      .then(async (row) => {
        if (row) return row.expiresAt > new Date() ? (row.data as unknown as SessionData) : null;
        return this.fromLegacy(sid);
      })
      .then((sess) => cb(null, sess))
      .catch(cb);
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
 * over TLS. Kept in the database, never in memory, so sessions survive restarts of the node and
 * of Redis and are shared by every node. The same middleware runs on Socket.IO.
 */
export function createSessionMiddleware(deps: { config: Config; db: Db; redis?: Redis | undefined }): {
  middleware: RequestHandler;
  store: Store;
  close: () => void;
} {
  const store = new DatabaseSessionStore(deps.db, deps.redis);
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
    close: () => store.close(),
  };
}
