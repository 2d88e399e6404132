import { randomInt } from 'node:crypto';
import request from 'supertest';

export type AgentSession = { cookie: string; csrf: string; userId: string };

/**
 * supertest against a running app as a signed-in agent: the session cookie on every call and
 * the CSRF token on state-changing ones, as the inbox page sends them.
 */
export function agentHttp(url: string, s: AgentSession) {
  const http = request(url);
  return {
    get: (path: string) => http.get(path).set('Cookie', s.cookie),
    post: (path: string, body?: object) => {
      const req = http.post(path).set('Cookie', s.cookie).set('X-CSRFToken', s.csrf);
      return body === undefined ? req : req.send(body);
    },
    delete: (path: string) => http.delete(path).set('Cookie', s.cookie).set('X-CSRFToken', s.csrf),
  };
}

/** Asserted on every timestamp the API returns. */
export const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** A browser-like agent session: the `session` cookie and the CSRF token, via the real login. */
export async function loginAgent(
  baseUrl: string,
  email: string,
  password: string,
): Promise<{ cookie: string; csrf: string; userId: string }> {
  const page = await fetch(`${baseUrl}/auth/login`);
  const pageCookie = cookieOf(page);
  const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(await page.text())?.[1];
  if (!csrf) throw new Error('login page has no csrf-token meta');
  const res = await fetch(`${baseUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: pageCookie, 'x-csrftoken': csrf },
    body: JSON.stringify({ email, password }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { user: { id: string }; csrf_token: string };
  return { cookie: cookieOf(res), csrf: body.csrf_token, userId: body.user.id };
}

/** `name=value` of the session cookie a response set. */
export function cookieOf(res: Response): string {
  const set = res.headers.getSetCookie().find((c) => c.startsWith('session='));
  if (!set) throw new Error('no session cookie set');
  return set.split(';')[0]!;
}

/** An address of the test's own (sent as X-Forwarded-For behind TRUST_PROXY), so tests never share rate limits. */
export const randomIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

/** The session id inside a signed `session` cookie. */
export const sidOf = (cookie: string) =>
  /^s:(.+)\.[^.]+$/.exec(decodeURIComponent(cookie.split('=')[1]!))![1]!;
