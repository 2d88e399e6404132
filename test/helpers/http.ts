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
