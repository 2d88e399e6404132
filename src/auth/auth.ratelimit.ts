import { RateLimiterRes } from 'rate-limiter-flexible';
import { createLimiter } from '../shared/public-ratelimit.js';
import type { Redis } from '../shared/redis.js';
import { AppError } from '../shared/errors.js';

export type LoginLimits = {
  /** Tries one address makes on one account, and on all accounts, before the delays start. */
  freePerAccountIp: number;
  freePerIp: number;
  /** Tries are counted over this window, from the first one. */
  windowS: number;
  /** The first delay; each further try doubles it, up to `maxDelayS`. */
  baseDelayS: number;
  maxDelayS: number;
  /** Failures on one account from all addresses in a window, past which only its known addresses may try. */
  accountCeiling: number;
  /** An address the account signed in from stays known this long. */
  knownAddressS: number;
};

/** The policy the README states (Auth section). */
export const defaultLoginLimits: LoginLimits = {
  freePerAccountIp: 5,
  freePerIp: 30,
  windowS: 60 * 60,
  baseDelayS: 2,
  maxDelayS: 15 * 60,
  accountCeiling: 200,
  // Under 24.8 days: the in-memory store expires keys with a timer, which cannot wait longer.
  knownAddressS: 14 * 24 * 3600,
};

const refused = (waitS: number) =>
  new AppError('auth/rate_limited', `Too many failed sign-in attempts; try again in ${waitS} s`, {
    retry_after: waitS,
  });

/**
 * Tries counted per key over the window; from the `free`-th on, each try closes a gate behind it
 * for a delay that doubles with every further try, so the next one must wait. The count and the
 * gate are atomic in Redis, so a burst of parallel tries cannot slip through together.
 */
function growingDelay(redis: Redis | undefined, name: string, free: number, l: LoginLimits) {
  // Only penalty/reward/get are used on `tries`: it counts and never refuses.
  const tries = createLimiter(redis, `sb:login:${name}:n`, 1, l.windowS);
  const gate = createLimiter(redis, `sb:login:${name}:gate`, 1, l.maxDelayS);
  return {
    /** Reserves one try: 0 when it may go ahead, else the seconds to wait (and nothing is counted). */
    async reserve(key: string): Promise<number> {
      const n = (await tries.penalty(key)).consumedPoints;
      if (n < free) return 0;
      const delayS = Math.min(l.baseDelayS * 2 ** (n - free), l.maxDelayS);
      try {
        await gate.consume(key, 1, { customDuration: delayS });
        return 0;
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        await tries.reward(key);
        return Math.max(1, Math.ceil(err.msBeforeNext / 1000));
      }
    },
    release: (key: string) => tries.reward(key),
    clear: (key: string) => Promise.all([tries.delete(key), gate.delete(key)]),
  };
}

/**
 * Failed sign-ins slow the one failing down, never the account's owner elsewhere:
 * - per (account, address): `freePerAccountIp` tries, then each next one waits 2 s, 4 s, 8 s … up
 *   to 15 min;
 * - per address, over all accounts (password spraying): the same after `freePerIp` tries;
 * - per account, from all addresses (a distributed guess): past `accountCeiling` failures in the
 *   window, only addresses the account signed in from within `knownAddressS` may try.
 * An address that has not been failing signs in with the right password at once. Every try is
 * counted before the password is checked (argon2 takes a while); a success gives it back and clears
 * the (account, address) count. Unknown emails count like real ones, so nothing tells them apart.
 */
export function createLoginLimiter(redis?: Redis, limits: LoginLimits = defaultLoginLimits) {
  const pair = growingDelay(redis, 'pair', limits.freePerAccountIp, limits);
  const ip = growingDelay(redis, 'ip', limits.freePerIp, limits);
  const accountFailures = createLimiter(redis, 'sb:login:acct', 1, limits.windowS);
  const known = createLimiter(redis, 'sb:login:known', 1, limits.knownAddressS);
  // An address holds no `|`, so the key is unambiguous whatever the email holds.
  const pairKey = (email: string, addr: string) => `${addr}|${email}`;

  return {
    /** Counts one try against every limit; throws 429 (with the seconds to wait) when one refuses it. */
    async attempt(email: string, addr: string) {
      const [failures, isKnown] = await Promise.all([
        accountFailures.get(email),
        known.get(pairKey(email, addr)),
      ]);
      if (failures && failures.consumedPoints >= limits.accountCeiling && !isKnown) {
        throw refused(Math.max(1, Math.ceil(failures.msBeforeNext / 1000)));
      }
      const pairWait = await pair.reserve(pairKey(email, addr));
      if (pairWait) throw refused(pairWait);
      const ipWait = await ip.reserve(addr);
      if (ipWait) {
        await pair.release(pairKey(email, addr));
        throw refused(ipWait);
      }
      await accountFailures.penalty(email);
    },
    /** The try was right: it counts against nothing, and the address is known for the account. */
    async succeeded(email: string, addr: string) {
      await Promise.all([
        pair.clear(pairKey(email, addr)),
        ip.release(addr),
        accountFailures.reward(email),
        known.set(pairKey(email, addr), 1, limits.knownAddressS),
      ]);
    },
  };
}
