import type { IncomingMessage } from 'node:http';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import type { AgentService } from '../agents/agents.service.js';
import type { AgentActor } from '../shared/auth/actor.js';
import type { Db } from '../shared/db.js';
import { hashPassword, verifyPassword } from '../shared/crypto.js';
import { AppError } from '../shared/errors.js';

// Verified against when the email is unknown, so both failures take the same time.
const dummyHash = hashPassword('timing-equaliser-not-a-password');

/** A passport instance of our own (not the global one): local strategy, session by user id. */
export function createPassport({
  db,
  agents,
  readWithSession,
}: {
  db: Db;
  agents: AgentService;
  /** The agent as read with the request's session (undefined: not read, ask). */
  readWithSession?: (req: IncomingMessage, userId: string) => AgentActor | null | undefined;
}) {
  const passport = new Passport();
  passport.use(
    new LocalStrategy({ usernameField: 'email', passwordField: 'password' }, (email, password, done) => {
      void (async () => {
        const user = await db.user.findUnique({
          where: { email: email.trim().toLowerCase() },
          include: { organization: { select: { status: true } } },
        });
        const ok = await verifyPassword(user?.passwordHash ?? (await dummyHash), password);
        // An operator without a password (delegated by the tenant backend) never signs in here: its
        // missing hash was just checked against the dummy one, whose password is in this file.
        if (!user?.passwordHash || !ok || user.status !== 'active') return done(null, false);
        // Said only to whoever knows the password, so it reveals nothing to a guesser; the sign-in
        // answers 403 `organization/suspended` (the error middleware's JSON) and starts no session.
        if (user.organization.status !== 'active') {
          return done(
            new AppError('organization/suspended', 'Your organization is suspended; sign-in is closed'),
          );
        }
        await db.user.update({ where: { id: user.id }, data: { lastLoginAt: new Date() } });
        done(null, (await agents.actorFor(user.id)) ?? false);
      })().catch(done);
    }),
  );
  passport.serializeUser((user, done) => done(null, (user as Express.User).userId));
  passport.deserializeUser(
    (req: IncomingMessage, id: string, done: (err: unknown, user?: Express.User | false) => void) => {
      // A deleted or deactivated agent is simply signed out.
      const read = readWithSession?.(req, id);
      if (read !== undefined) return done(null, read ?? false);
      agents.actorFor(id).then((actor) => done(null, actor ?? false), done);
    },
  );
  return passport;
}
