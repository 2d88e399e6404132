// Local servers that speak the push providers' real protocols, for tests: FCM HTTP v1 with its
// OAuth token endpoint over HTTPS, and APNs over HTTP/2 + TLS with ES256 provider JWTs. Each
// records what it received and answers per device token as the test scripts it.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomUUID, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createSecureServer, type IncomingHttpHeaders } from 'node:http2';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A self-signed certificate for 127.0.0.1, made with the system's openssl; `caFile` trusts it. */
export function makeTlsCert() {
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-push-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync(
    '/usr/bin/openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return {
    key: readFileSync(key, 'utf8'),
    cert: readFileSync(cert, 'utf8'),
    caFile: cert,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

type Tls = { key: string; cert: string };

function b64json(part: string) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Verifies a compact JWS with `key`; returns its header and claims, or throws. */
function verifyJwt(jwt: string, key: KeyObject, alg: 'RS256' | 'ES256') {
  const [h, p, s] = jwt.split('.');
  if (!h || !p || !s) throw new Error('not a JWT');
  const header = b64json(h);
  if (header.alg !== alg) throw new Error(`alg ${String(header.alg)}`);
  const ok = verify(
    'sha256',
    Buffer.from(`${h}.${p}`),
    alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key,
    Buffer.from(s, 'base64url'),
  );
  if (!ok) throw new Error('bad signature');
  return { header, claims: b64json(p) };
}

export type Script = 'ok' | 'unregistered' | 'unavailable';

/** Answers per token: a fixed answer, or a list consumed one request at a time (then `ok`). */
class Answers {
  private scripts = new Map<string, Script[]>();
  set(token: string, ...answers: Script[]) {
    this.scripts.set(token, answers);
  }
  next(token: string): Script {
    const list = this.scripts.get(token);
    if (!list?.length) return 'ok';
    return list.length === 1 ? list[0]! : list.shift()!;
  }
}

async function listen(server: Server | ReturnType<typeof createSecureServer>) {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function waitFor<T>(read: () => T[], count: number, timeoutMs: number, what: string): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const got = read();
      if (got.length >= count) return resolve(got);
      if (Date.now() - started > timeoutMs)
        return reject(new Error(`timed out waiting for ${count} ${what}; got ${got.length}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

export type FcmRequest = {
  at: number;
  projectId: string;
  authorization: string | undefined;
  accessTokenValid: boolean;
  contentType: string | undefined;
  message: Record<string, unknown> & { token: string };
  answered: Script;
};

/**
 * FCM HTTP v1: `POST /token` (OAuth 2 JWT-bearer grant, assertion checked against the service
 * account's public key) and `POST /v1/projects/{id}/messages:send` (Bearer token required).
 */
export async function startFakeFcm(tls: Tls) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const serviceAccount = {
    type: 'service_account',
    project_id: `sb-test-${randomUUID().slice(0, 8)}`,
    private_key_id: randomUUID().replaceAll('-', ''),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: 'push@sb-test.iam.gserviceaccount.com',
    client_id: '1234567890',
    token_uri: 'https://oauth2.googleapis.com/token',
  };
  const issued = new Set<string>();
  const tokenRequests: { at: number; claims: Record<string, unknown> }[] = [];
  const requests: FcmRequest[] = [];
  const answers = new Answers();

  const server = createServer(tls, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
        res.end(JSON.stringify(json));
      };
      if (req.method === 'POST' && req.url === '/token') {
        const form = new URLSearchParams(body);
        try {
          if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
            throw new Error('grant');
          const { claims } = verifyJwt(form.get('assertion') ?? '', publicKey, 'RS256');
          if (claims.iss !== serviceAccount.client_email) throw new Error('iss');
          tokenRequests.push({ at: Date.now(), claims });
          const token = `ya29.${randomUUID()}`;
          issued.add(token);
          return send(200, { access_token: token, expires_in: 3599, token_type: 'Bearer' });
        } catch (err) {
          return send(400, { error: 'invalid_grant', error_description: (err as Error).message });
        }
      }
      const m = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m) return send(404, { error: { code: 404, status: 'NOT_FOUND' } });
      const auth = req.headers.authorization;
      const accessTokenValid = Boolean(auth?.startsWith('Bearer ') && issued.has(auth.slice(7)));
      if (!accessTokenValid) {
        return send(401, {
          error: {
            code: 401,
            message: 'Request had invalid authentication credentials.',
            status: 'UNAUTHENTICATED',
          },
        });
      }
      const { message } = JSON.parse(body) as { message: FcmRequest['message'] };
      const answered = answers.next(message.token);
      requests.push({
        at: Date.now(),
        projectId: decodeURIComponent(m[1]!),
        authorization: auth,
        accessTokenValid,
        contentType: req.headers['content-type'],
        message,
        answered,
      });
      if (answered === 'unregistered') {
        return send(404, {
          error: {
            code: 404,
            message: 'Requested entity was not found.',
            status: 'NOT_FOUND',
            details: [
              { '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' },
            ],
          },
        });
      }
      if (answered === 'unavailable') {
        return send(503, {
          error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' },
        });
      }
      send(200, { name: `projects/${m[1]}/messages/0:${Date.now()}%${randomUUID().slice(0, 8)}` });
    });
  });
  const port = await listen(server);
  return {
    url: `https://127.0.0.1:${port}`,
    serviceAccount,
    requests,
    tokenRequests,
    answers,
    /** Requests for one device token. */
    for: (token: string) => requests.filter((r) => r.message.token === token),
    waitFor: (token: string, count: number, timeoutMs = 10_000) =>
      waitFor(() => requests.filter((r) => r.message.token === token), count, timeoutMs, 'FCM requests'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type ApnsRequest = {
  at: number;
  token: string;
  headers: IncomingHttpHeaders;
  jwt: { header: Record<string, unknown>; claims: Record<string, unknown> } | null;
  body: Record<string, unknown> & { aps: Record<string, unknown> };
  answered: Script | 'bad_jwt';
};

/** APNs provider API over HTTP/2: `POST /3/device/{token}` with a provider JWT (ES256). */
export async function startFakeApns(tls: Tls) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const credential = {
    team_id: 'TEAM123456',
    key_id: 'KEY1234567',
    bundle_id: 'com.example.switchboard',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
  const requests: ApnsRequest[] = [];
  const answers = new Answers();
  const server = createSecureServer({ ...tls, allowHTTP1: false });
  server.on('stream', (stream, headers) => {
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (body += c));
    stream.on('end', () => {
      const reply = (status: number, json?: unknown) => {
        stream.respond({ ':status': status, 'apns-id': String(headers['apns-id'] ?? randomUUID()) });
        stream.end(json === undefined ? undefined : JSON.stringify(json));
      };
      const m = /^\/3\/device\/([0-9a-f]+)$/.exec(String(headers[':path']));
      if (headers[':method'] !== 'POST' || !m) return reply(404, { reason: 'BadPath' });
      let jwt: ApnsRequest['jwt'] = null;
      try {
        const auth = String(headers.authorization ?? '');
        if (!auth.startsWith('bearer ')) throw new Error('no bearer');
        jwt = verifyJwt(auth.slice(7), publicKey, 'ES256');
        if (jwt.header.kid !== credential.key_id || jwt.claims.iss !== credential.team_id)
          throw new Error('kid/iss');
      } catch {
        requests.push({
          at: Date.now(),
          token: m[1]!,
          headers,
          jwt,
          body: JSON.parse(body || '{}'),
          answered: 'bad_jwt',
        });
        return reply(403, { reason: 'InvalidProviderToken' });
      }
      const answered = answers.next(m[1]!);
      requests.push({ at: Date.now(), token: m[1]!, headers, jwt, body: JSON.parse(body), answered });
      if (answered === 'unregistered') return reply(410, { reason: 'Unregistered', timestamp: Date.now() });
      if (answered === 'unavailable') return reply(503, { reason: 'ServiceUnavailable' });
      reply(200);
    });
  });
  const port = await listen(server);
  return {
    host: `127.0.0.1:${port}`,
    credential,
    requests,
    answers,
    for: (token: string) => requests.filter((r) => r.token === token),
    waitFor: (token: string, count: number, timeoutMs = 10_000) =>
      waitFor(() => requests.filter((r) => r.token === token), count, timeoutMs, 'APNs requests'),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
