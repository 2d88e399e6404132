// The dashboard: Company → API Keys, Team and Identity & keys, Integration → Web Chat,
// Mobile SDK and Webhooks, Automation → Bots and Knowledge base.
// One page, one section at a time, chosen by the URL hash so each is linkable.
import { api, byId, formatTime, h } from '../../inbox/client/dom.js';
import { cannedSection } from './canned.js';
import { identitySection } from './identity.js';
import { keysSection } from './keys.js';
import { knowledgeSection } from './knowledge.js';
import { settingsSection } from './settings.js';
import { usageSection } from './usage.js';
import { mobileSection } from './mobile.js';
import { memberQueues, queuesField, withQueues } from './routing-keys.js';
import { webhooksSection } from './webhooks.js';
import { confirmButton, errorText, field, form, row, section, secretBox, select, table } from './ui.js';

type ApiKey = { id: string; name: string; prefix: string; created_at: string; last_used_at: string | null };
export type Bot = {
  id: string;
  name: string;
  webchat_channel_id: string | null;
  mobile_channel_id: string | null;
};
type EmbedToken = {
  id: string;
  name: string;
  prefix: string;
  bot_name: string;
  allowed_origins: string[];
  created_at: string;
  revoked_at: string | null;
  token?: string;
};
type Member = {
  id: string;
  display_name: string;
  email?: string;
  role: string;
  status: string;
  routing_keys?: string[];
  last_login_at?: string | null;
  /** Created by the tenant's backend (signed API): it vouches for them, they have no password here. */
  delegated?: boolean;
  external_id?: string | null;
};

const main = byId('dashboard');
const me = document.body.dataset.userId ?? '';
const myRole = document.body.dataset.userRole ?? 'agent';

async function apiKeys(): Promise<HTMLElement> {
  const keys = await api<ApiKey[]>('GET', '/api/api-keys');
  return section(
    'API Keys',
    'Keys for integrations. A key is shown once, when it is created; keep it somewhere safe.',
    h('div', { class: 'once' }),
    form(
      'Create an API key',
      [field('Name', 'name', { required: true, placeholder: 'CRM sync' })],
      'Create',
      async (d) => {
        const k = await api<ApiKey & { key: string }>('POST', '/api/api-keys', { name: d.name });
        await render();
        showOnce(secretBox(`New key “${k.name}”`, k.key, 'This is the only time the key is shown.'));
      },
    ),
    table(
      ['Name', 'Key', 'Created', 'Last used', ''],
      keys.map((k) =>
        row(
          k.name,
          h('code', {}, `${k.prefix}…`),
          formatTime(k.created_at),
          k.last_used_at ? formatTime(k.last_used_at) : 'never',
          confirmButton('Revoke', 'Confirm revoke', async () => {
            await api('DELETE', `/api/api-keys/${k.id}`);
            await render();
          }),
        ),
      ),
      'No API keys yet.',
    ),
  );
}

/** Puts a value shown once at the top of the section, in view, its Copy button focused. */
function showOnce(...boxes: HTMLElement[]) {
  const slot = main.querySelector('.once');
  if (!slot) return;
  slot.replaceChildren(...boxes);
  slot.scrollIntoView({ block: 'start' });
  slot.querySelector('button')?.focus();
}

export function snippet(token: string): string {
  return `<script src="${location.origin}/chat-widget/embed.js" data-embed-token="${token}"></script>`;
}

async function webChat(): Promise<HTMLElement> {
  const [bots, tokens] = await Promise.all([
    api<Bot[]>('GET', '/api/bots'),
    api<EmbedToken[]>('GET', '/api/embed-tokens'),
  ]);
  const create = bots.length
    ? form(
        'Create an embed token',
        [
          select(
            'Bot',
            'bot_id',
            bots.map((b) => [b.id, b.name]),
          ),
          field('Name', 'name', { required: true, placeholder: 'Shop website' }),
          field('Allowed origins, one per line (blank allows every origin)', 'allowed_origins', {
            textarea: true,
            placeholder: 'https://shop.example.com',
          }),
        ],
        'Create',
        async (d) => {
          const allowed_origins = (d.allowed_origins ?? '')
            .split('\n')
            .map((o) => o.trim())
            .filter(Boolean);
          const t = await api<EmbedToken & { token: string }>('POST', '/api/embed-tokens', {
            bot_id: d.bot_id,
            name: d.name,
            allowed_origins,
          });
          await render();
          showOnce(
            secretBox(`Token “${t.name}”`, t.token, 'Shown once. Copy the snippet below into your pages.'),
            secretBox(
              'Script snippet',
              snippet(t.token),
              'Paste it just before </body> on every page that shows the chat.',
            ),
          );
        },
      )
    : h('p', {}, 'Create a bot first (Bots), then attach an embed to it.');
  return section(
    'Web Chat',
    'Embed tokens put the chat widget on your sites. Requests from origins not listed are refused.',
    h('div', { class: 'once' }),
    create,
    table(
      ['Name', 'Token', 'Bot', 'Allowed origins', 'Created', ''],
      tokens.map((t) =>
        row(
          t.name,
          h('code', {}, `${t.prefix}…`),
          t.bot_name,
          t.allowed_origins.length ? t.allowed_origins.join('\n') : 'any origin',
          formatTime(t.created_at),
          t.revoked_at
            ? h('span', { class: 'muted' }, `revoked ${formatTime(t.revoked_at)}`)
            : confirmButton('Revoke', 'Confirm revoke', async () => {
                await api('DELETE', `/api/embed-tokens/${t.id}`);
                await render();
              }),
        ),
      ),
      'No embed tokens yet.',
    ),
  );
}

async function bots(): Promise<HTMLElement> {
  const list = await api<Bot[]>('GET', '/api/bots');
  return section(
    'Bots',
    'Each bot has its own web-chat embeds and one mobile channel.',
    form(
      'Create a bot',
      [field('Name', 'name', { required: true, placeholder: 'Support assistant' })],
      'Create',
      async (d) => {
        await api('POST', '/api/bots', { name: d.name });
        await render();
      },
    ),
    table(
      ['Name', 'Rename'],
      list.map((b) => {
        const input = h('input', {
          name: 'name',
          value: b.name,
          'aria-label': `New name for ${b.name}`,
          required: true,
        });
        const status = h('span', { class: 'error-text', role: 'alert' });
        const f = h(
          'form',
          { class: 'inline-form' },
          input,
          h('button', { type: 'submit' }, 'Rename'),
          status,
        );
        f.addEventListener('submit', (ev) => {
          ev.preventDefault();
          api('PATCH', `/api/bots/${b.id}`, { name: input.value })
            .then(() => render())
            .catch((e: unknown) => (status.textContent = e instanceof Error ? e.message : 'Failed'));
        });
        return row(b.name, f);
      }),
      'No bots yet.',
    ),
  );
}

async function team(): Promise<HTMLElement> {
  const members = await api<Member[]>('GET', '/api/team');
  const roles: [string, string][] = [
    ['agent', 'Agent'],
    ['admin', 'Admin'],
    ...(myRole === 'owner' ? ([['owner', 'Owner']] as [string, string][]) : []),
  ];
  return section(
    'Team',
    'Agents work the inbox; admins also manage this dashboard; owners manage admins. An agent with queues (routing keys) sees only those conversations. Delegated operators are created by your backend (signed API) and sign in through your app.',
    h('div', { class: 'once' }),
    form(
      'Add a team member',
      [
        field('Name', 'display_name', { required: true }),
        field('Email', 'email', { type: 'email', required: true }),
        field('Initial password (8+ characters)', 'password', { type: 'password', required: true }),
        select('Role', 'role', roles, 'agent'),
        queuesField('routing_keys'),
      ],
      'Add',
      async (d) => {
        await api('POST', '/api/team', withQueues(d));
        await render();
      },
    ),
    table(
      ['Name', 'Email', 'Role', 'Queues', 'Status', 'Last sign-in', ''],
      members.map((m) => {
        const self = m.id === me;
        const locked = self || (m.role === 'owner' && myRole !== 'owner');
        const roleSel = h(
          'select',
          { 'aria-label': `Role of ${m.display_name}`, disabled: locked },
          ...(m.role === 'owner' && myRole !== 'owner'
            ? [['owner', 'Owner'] as [string, string]]
            : roles
          ).map(([v, l]) => h('option', { value: v, selected: v === m.role }, l)),
        );
        // The select already shows the new role; only a refusal redraws (back to the stored one).
        roleSel.addEventListener('change', () => {
          roleSel.disabled = true;
          api('PATCH', `/api/team/${m.id}`, { role: roleSel.value })
            .then(() => (roleSel.disabled = false))
            .catch((e: unknown) => {
              void render().then(() =>
                main
                  .querySelector('.once')
                  ?.replaceChildren(h('p', { class: 'error', role: 'alert' }, errorText(e))),
              );
            });
        });
        const next = m.status === 'active' ? 'deactivated' : 'active';
        const toggle = locked
          ? null
          : m.status === 'active'
            ? confirmButton('Deactivate', 'Confirm deactivate', async () => {
                await api('PATCH', `/api/team/${m.id}`, { status: next });
                await render();
              })
            : h(
                'button',
                {
                  type: 'button',
                  onclick: () =>
                    void api('PATCH', `/api/team/${m.id}`, { status: next }).then(render, render),
                },
                'Reactivate',
              );
        const who = h('span', {}, self ? `${m.display_name} (you)` : m.display_name);
        if (m.delegated) {
          who.append(
            ' ',
            h(
              'span',
              { class: 'badge delegated', title: 'Created by your backend through the signed API' },
              `Delegated · ${m.external_id ?? ''}`,
            ),
          );
        }
        return row(
          who,
          m.delegated ? h('span', { class: 'muted' }, 'signs in through your app') : (m.email ?? ''),
          roleSel,
          memberQueues(m, m.role === 'owner' && myRole !== 'owner', (id, keys) =>
            api('PATCH', `/api/team/${id}`, { routing_keys: keys }),
          ),
          m.status,
          m.last_login_at ? formatTime(m.last_login_at) : 'never',
          toggle,
        );
      }),
      'Nobody yet.',
    ),
  );
}

const sections: Record<string, () => Promise<HTMLElement>> = {
  'api-keys': apiKeys,
  team,
  keys: () => keysSection(myRole === 'owner'),
  identity: identitySection,
  settings: () => settingsSection(myRole === 'owner'),
  usage: () => usageSection(myRole === 'owner'),
  'web-chat': webChat,
  'mobile-sdk': () => mobileSection(render),
  webhooks: webhooksSection,
  bots,
  knowledge: knowledgeSection,
  'canned-replies': cannedSection,
};

let seq = 0;
async function render(): Promise<void> {
  const name = location.hash.slice(1) in sections ? location.hash.slice(1) : 'api-keys';
  for (const a of document.querySelectorAll<HTMLAnchorElement>('.side-nav a')) {
    a.setAttribute('aria-current', a.hash === `#${name}` ? 'page' : 'false');
  }
  const mine = ++seq;
  main.setAttribute('aria-busy', 'true');
  try {
    const el = await sections[name]!();
    if (mine === seq) main.replaceChildren(el);
  } catch (e) {
    if (mine === seq)
      main.replaceChildren(
        h('p', { class: 'error', role: 'alert' }, e instanceof Error ? e.message : 'Failed to load'),
      );
  } finally {
    if (mine === seq) main.setAttribute('aria-busy', 'false');
  }
}

window.addEventListener('hashchange', () => void render());
void render();
