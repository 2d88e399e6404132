import { isIP } from 'node:net';
import { Agent, type AgentOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { rootCertificates, type ConnectionOptions } from 'node:tls';
import { deleteApp, initializeApp, type App, type Credential } from 'firebase-admin/app';
import { JWT } from 'google-auth-library';
import { getMessaging, type Message } from 'firebase-admin/messaging';
import type { FcmSecret, PushCredentialFor } from './push.types.js';
import type { PushOutcome, PushPayload } from './push.types.js';

const FCM_HOST = 'fcm.googleapis.com:443';
const TOKEN_HOST = 'oauth2.googleapis.com:443';

type Route = { host: string; port: number };

/**
 * An https agent that can connect a Google hostname to another address, like curl's
 * `--connect-to`. firebase-admin and google-auth-library name their hosts as constants; the
 * agent is the option they both take, so this is how FCM_API_URL / GOOGLE_OAUTH_TOKEN_URL take
 * effect. The certificate is checked against the address actually dialled.
 */
class ConnectToAgent extends Agent {
  constructor(
    private readonly routes: Map<string, Route>,
    opts: AgentOptions,
  ) {
    super(opts);
  }
  override createConnection(
    options: ConnectionOptions & { host?: string; port?: number },
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const to = this.routes.get(`${options.host}:${options.port ?? 443}`);
    if (!to) return super.createConnection(options, callback);
    const { servername: _ignored, ...rest } = options;
    return super.createConnection(
      { ...rest, host: to.host, port: to.port, ...(isIP(to.host) ? {} : { servername: to.host }) },
      callback,
    );
  }
}

function route(fromHost: string, url: string, routes: Map<string, Route>) {
  const u = new URL(url);
  const to = { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 443) };
  if (`${to.host}:${to.port}` !== fromHost) routes.set(fromHost, to);
}

// FCM v1 error codes (as firebase-admin names them) that mean the token will never work again.
const DEAD_TOKEN = new Set([
  'messaging/registration-token-not-registered',
  'messaging/invalid-registration-token',
  'messaging/mismatched-credential',
]);
const TRANSIENT = new Set([
  'messaging/server-unavailable',
  'messaging/internal-error',
  'messaging/message-rate-exceeded',
  'messaging/device-message-rate-exceeded',
  'app/network-error',
  'app/network-timeout',
  // Also what a failed OAuth token fetch becomes (Google's token endpoint unreachable).
  'app/invalid-credential',
]);

const SCOPES = [
  'https://www.googleapis.com/auth/firebase.messaging',
  'https://www.googleapis.com/auth/cloud-platform',
];

/**
 * A firebase-admin Credential from a service account whose OAuth exchange goes through `agent`
 * (firebase-admin's own `cert()` does not hand its agent to google-auth-library 10).
 */
function serviceAccountCredential(sa: NonNullable<FcmSecret['service_account']>, agent: Agent): Credential {
  const jwt = new JWT({
    email: sa.client_email,
    key: sa.private_key,
    scopes: SCOPES,
    transporterOptions: { agent },
  });
  return {
    async getAccessToken() {
      const { token } = await jwt.getAccessToken();
      if (!token) throw new Error('the OAuth token endpoint returned no access token');
      const expiresIn = Math.floor(
        ((jwt.credentials.expiry_date ?? Date.now() + 3_600_000) - Date.now()) / 1000,
      );
      return { access_token: token, expires_in: expiresIn };
    },
  };
}

/** FCM HTTP v1 through firebase-admin: one Firebase app per stored credential version. */
export function createFcmSender(opts: { apiUrl: string; tokenUrl: string; ca?: string | undefined }) {
  const routes = new Map<string, Route>();
  route(FCM_HOST, opts.apiUrl, routes);
  route(TOKEN_HOST, opts.tokenUrl, routes);
  const agent = new ConnectToAgent(routes, {
    keepAlive: true,
    ...(opts.ca ? { ca: [...rootCertificates, opts.ca] } : {}),
  });
  const apps = new Map<string, App>();

  function appFor(cred: PushCredentialFor<'fcm'>): App {
    const found = apps.get(cred.id);
    if (found?.name === cred.version) return found;
    if (found) {
      apps.delete(cred.id);
      void deleteApp(found).catch(() => {});
    }
    const sa = cred.secret.service_account!;
    const app = initializeApp(
      {
        credential: serviceAccountCredential(sa, agent),
        projectId: sa.project_id,
        httpAgent: agent,
      },
      cred.version,
    );
    apps.set(cred.id, app);
    return app;
  }

  return {
    async send(cred: PushCredentialFor<'fcm'>, token: string, p: PushPayload): Promise<PushOutcome> {
      if (!(cred.secret as FcmSecret).service_account) {
        return { ok: false, kind: 'permanent', reason: 'only a legacy FCM server key is stored' };
      }
      const message: Message = {
        token,
        notification: { title: p.title, body: p.body },
        data: { conversation_id: p.conversationId, message_id: p.messageId, type: 'message' },
        android: {
          priority: 'high',
          collapseKey: p.conversationId,
          notification: { tag: p.conversationId },
        },
        apns: {
          headers: { 'apns-collapse-id': p.conversationId },
          payload: { aps: { threadId: p.conversationId } },
        },
      };
      try {
        await getMessaging(appFor(cred)).send(message);
        return { ok: true };
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        const reason = `${code || 'error'}: ${(err as Error).message}`.slice(0, 500);
        if (DEAD_TOKEN.has(code)) return { ok: false, kind: 'invalid_token', reason };
        if (TRANSIENT.has(code) || !code) return { ok: false, kind: 'transient', reason };
        return { ok: false, kind: 'permanent', reason };
      }
    },

    async close() {
      const all = [...apps.values()];
      apps.clear();
      await Promise.all(all.map((a) => deleteApp(a).catch(() => {})));
      agent.destroy();
    },
  };
}
