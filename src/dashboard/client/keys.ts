// Company → Tenant keys: the organization's id, its widget public key and its tenant secret (only
// as its hint), the rotation of the widget key (admins) and of the secret with a grace period
// (owners), and the snippet of each integration with the tenant's values filled in.
import { api, ApiError, h } from '../../inbox/client/dom.js';
import { codeBlock, form, section, secretBox, select } from './ui.js';

export type Organization = {
  id: string;
  name: string;
  widget_public_key: string;
  tenant_secret_hint: string;
  allowed_origins: string[];
  previous_secret_valid_until: string | null;
  previous_secret_seconds_left: number | null;
  locale: string;
};

const GRACE: [string, string][] = [
  ['0', 'None: it stops verifying at once'],
  ['1', '1 hour'],
  ['24', '24 hours'],
  ['168', '7 days'],
  ['720', '30 days'],
];
export const SECRET_ENV = 'SWITCHBOARD_TENANT_SECRET';

const localTime = (iso: string) =>
  new Date(iso).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });

/** "3 h 20 min left", "25 min left", "6 d 2 h left": what remains of a grace period of `seconds`. */
export function timeLeft(seconds: number): string {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  if (minutes < 60) return `${minutes} min left`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min left`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h left`;
}

function facts(org: Organization): HTMLElement {
  const until = org.previous_secret_valid_until;
  const left = org.previous_secret_seconds_left;
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'keys-title' },
    h('h2', { id: 'keys-title' }, 'Keys'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Tenant ID'),
      h('dd', {}, h('code', { class: 'tenant-id' }, org.id)),
      h('dt', {}, 'Widget public key'),
      h('dd', {}, h('code', { class: 'public-key' }, org.widget_public_key)),
      h('dt', {}, 'Tenant secret'),
      h(
        'dd',
        {},
        h('code', { class: 'secret-hint' }, org.tenant_secret_hint),
        ' ',
        h('span', { class: 'muted' }, '(its last four characters: the secret is shown only when it is made)'),
      ),
      until && left
        ? h(
            'dd',
            { class: 'notice grace' },
            `Previous secret still verifies until ${localTime(until)} (${timeLeft(left)})`,
          )
        : null,
    ),
  );
}

/** A two-step form: the first submit asks (`question()`), the second does it. */
function confirmed(
  title: string,
  fields: HTMLElement[],
  startLabel: string,
  question: (d: Record<string, string>) => string,
  confirmLabel: string,
  run: (d: Record<string, string>) => Promise<void>,
): HTMLFormElement {
  const text = h('p', {});
  const confirmBtn = h('button', { type: 'submit', class: 'danger' }, confirmLabel);
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const confirm = h('div', { class: 'warning', hidden: true }, text, confirmBtn, ' ', cancel);
  let armed = false;
  const arm = (on: boolean) => {
    armed = on;
    confirm.hidden = !on;
    start.hidden = on;
  };
  const f = form(title, [...fields, confirm], startLabel, async (d) => {
    if (!armed) {
      text.textContent = question(d);
      arm(true);
      confirmBtn.focus();
      return;
    }
    confirmBtn.disabled = true;
    try {
      await run(d);
    } finally {
      arm(false);
      confirmBtn.disabled = false;
    }
  });
  const start = f.querySelector<HTMLButtonElement>('button.primary')!;
  cancel.addEventListener('click', () => {
    arm(false);
    start.focus();
  });
  f.addEventListener('change', () => arm(false));
  return f;
}

/** Owners choose a grace period, confirm, and get the new secret once; others see why they can't. */
function secretRotation(
  isOwner: boolean,
  current: () => Organization,
  onRotated: (org: Organization, secret: string) => void,
): HTMLElement {
  const title = 'Rotate the tenant secret';
  const intro = h(
    'p',
    { class: 'muted' },
    'A new secret replaces the current one. During the grace period both verify signed API calls and ' +
      'user_hash values, so your backends can switch to the new one without refusing anyone.',
  );
  if (!isOwner) {
    return h(
      'section',
      { class: 'panel', 'aria-labelledby': 'rotate-title' },
      h('h2', { id: 'rotate-title' }, title),
      intro,
      h(
        'button',
        { type: 'button', class: 'primary', disabled: true, 'aria-describedby': 'rotate-why' },
        'Rotate secret…',
      ),
      h(
        'p',
        { id: 'rotate-why', class: 'notice-text' },
        'Only an owner can rotate the tenant secret. Ask an owner of your organization to do it.',
      ),
    );
  }
  return confirmed(
    title,
    [intro, select('Grace period for the current secret', 'grace_hours', GRACE, '24')],
    'Rotate secret…',
    (d) => {
      const org = current();
      const label = GRACE.find(([v]) => v === d.grace_hours)?.[1] ?? `${d.grace_hours} hours`;
      return (
        (Number(d.grace_hours) > 0
          ? `The current secret (${org.tenant_secret_hint}) keeps verifying for ${label}, then stops.`
          : `The current secret (${org.tenant_secret_hint}) stops verifying at once: calls signed with it are refused.`) +
        (org.previous_secret_valid_until ? ' The secret before it stops verifying at once.' : '') +
        ' The new secret is shown once.'
      );
    },
    'Confirm rotation',
    async (d) => {
      try {
        const { tenant_secret: secret, ...org } = await api<Organization & { tenant_secret: string }>(
          'POST',
          '/api/organization/secret/rotate',
          { grace_hours: Number(d.grace_hours) },
        );
        onRotated(org, secret);
      } catch (e) {
        if (e instanceof ApiError && e.status === 403 && e.code === 'auth/forbidden') {
          throw new ApiError(403, e.code, `Only owners can rotate the tenant secret (${e.message}).`);
        }
        throw e;
      }
    },
  );
}

function widgetKeyRotation(current: () => Organization, onRotated: (org: Organization) => void) {
  return confirmed(
    'Rotate the widget key',
    [
      h(
        'p',
        { class: 'muted' },
        'The widget public key is not secret, but a new one shuts out copies of your snippet you no longer ' +
          'control. It takes effect at once: every widget and app must be given the new key.',
      ),
    ],
    'Rotate widget key…',
    () =>
      `The key ${current().widget_public_key} stops working now: widgets still using it are refused, and ` +
      'their visitors’ sessions end (their next connection asks for a new one).',
    'Confirm new widget key',
    async () => onRotated(await api<Organization>('POST', '/api/organization/widget-key/rotate')),
  );
}

/** The snippet of each integration, with the tenant's id, key and this server's address. */
export function snippets(org: Organization, callbackBaseUrl: string | null): HTMLElement {
  const base = location.origin;
  const scriptTag =
    `<script src="${base}/sdk/switchboard-chat.js" defer></script>\n` +
    `<switchboard-chat tenant-id="${org.id}" widget-key="${org.widget_public_key}"\n` +
    `  base-url="${base}" locale="${org.locale}"></switchboard-chat>`;
  // Outside a browser there is no page origin: the client names one the tenant allows.
  const nodeOrigin = org.allowed_origins[0] ?? 'https://your-site.example';
  const clientCore =
    `import { ChatClient, WSClient } from '@switchboard/client-core';\n` +
    `// Node 20 has no WebSocket of its own: npm i ws, add  import { WebSocket } from 'ws';\n` +
    `// and pass  WebSocket,  in WSClient's options below. Browsers and Node 22+ need nothing.\n\n` +
    `const client = new ChatClient({\n` +
    `  baseUrl: '${base}',\n` +
    `  tenantId: '${org.id}',\n` +
    `  widgetPublicKey: '${org.widget_public_key}',\n` +
    `  // A browser sends its page's origin; elsewhere (Node, an app) one of your allowed origins.\n` +
    `  origin: (globalThis as { location?: { origin: string } }).location?.origin ?? '${nodeOrigin}',\n` +
    `});\n` +
    `const session = await client.createVisitorSession({ locale: '${org.locale}' });\n` +
    `const ws = new WSClient(\n` +
    `  {\n` +
    `    baseUrl: '${base}',\n` +
    `    visitorToken: session.visitor_token,\n` +
    `    refreshToken: async (old) => (await client.refreshVisitorToken(old)).visitor_token,\n` +
    `    recreateSession: async () => (await client.createVisitorSession()).visitor_token,\n` +
    `  },\n` +
    `  { onMessage: (m) => console.log(\`\${m.role}: \${m.content}\`) },\n` +
    `);\n` +
    `ws.connect();\n` +
    `ws.sendMessage('Hello!');`;
  const angular =
    `import { provideSwitchboardChat } from '@switchboard/angular';\n\n` +
    `export const appConfig: ApplicationConfig = {\n` +
    `  providers: [\n` +
    `    provideSwitchboardChat({\n` +
    `      tenantId: '${org.id}',\n` +
    `      publicKey: '${org.widget_public_key}',\n` +
    `      baseUrl: '${base}',\n` +
    `      locale: '${org.locale}',\n` +
    `    }),\n` +
    `  ],\n` +
    `};`;
  const env =
    `SWITCHBOARD_BASE_URL=${base}\n` +
    `SWITCHBOARD_TENANT_ID=${org.id}\n` +
    `${SECRET_ENV}=sk_...        # the secret ending in ${org.tenant_secret_hint.slice(-4)}: server-side only\n` +
    (callbackBaseUrl
      ? `SWITCHBOARD_CALLBACK_BASE_URL=${callbackBaseUrl}`
      : `# SWITCHBOARD_CALLBACK_BASE_URL=https://your-backend.example.com   (where webhooks go)`);
  return h(
    'section',
    { class: 'panel wide snippets', 'aria-labelledby': 'snippets-title' },
    h('h2', { id: 'snippets-title' }, 'Snippets'),
    h(
      'p',
      { class: 'muted' },
      'Your values are filled in. The widget works only on the sites and apps listed under Widget & origins.',
    ),
    codeBlock('Script tag (any site)', scriptTag),
    codeBlock('Client core (TypeScript, browsers and Node)', clientCore),
    codeBlock('Angular provider', angular),
    codeBlock('Server SDK environment (Node and Python)', env),
  );
}

/** The section; `isOwner` decides whether the secret's rotation is offered (the server checks again). */
export async function keysSection(isOwner: boolean): Promise<HTMLElement> {
  const [first, hooks] = await Promise.all([
    api<Organization>('GET', '/api/organization'),
    api<{ callback_base_url: string | null }>('GET', '/api/organization/webhooks'),
  ]);
  let org = first;
  const once = h('div', { class: 'once' });
  let factsEl = facts(org);
  let snippetsEl = snippets(org, hooks.callback_base_url);
  const update = (next: Organization) => {
    org = next;
    const f = facts(org);
    const s = snippets(org, hooks.callback_base_url);
    factsEl.replaceWith(f);
    snippetsEl.replaceWith(s);
    factsEl = f;
    snippetsEl = s;
  };
  const show = (...boxes: HTMLElement[]) => {
    once.replaceChildren(...boxes);
    once.scrollIntoView({ block: 'start' });
    once.querySelector('button')?.focus();
  };
  return section(
    'Tenant keys',
    'The ids and keys your widgets, apps and backend use, and the code that uses them.',
    once,
    factsEl,
    widgetKeyRotation(
      () => org,
      (next) => {
        update(next);
        show(
          h(
            'p',
            { class: 'notice', role: 'status' },
            `New widget public key: ${next.widget_public_key}. The snippets below use it.`,
          ),
        );
      },
    ),
    secretRotation(
      isOwner,
      () => org,
      (next, secret) => {
        update(next);
        show(
          secretBox(
            'New tenant secret',
            secret,
            `This is the only time it is shown: it won’t be shown again. Store it in your backend’s ` +
              `secret store as ${SECRET_ENV}; from now on the dashboard shows only ${next.tenant_secret_hint}.`,
          ),
        );
      },
    ),
    snippetsEl,
  );
}
