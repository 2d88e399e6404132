// Company → Widget & origins: where the widget may run (allowed origins), how it looks (branding,
// with a live preview of the real <switchboard-chat>), two feature flags (the mode a visitor
// starts in, what happens while no agent is online) and, for owners, deleting the organization.
import { api, ApiError, h } from '../../inbox/client/dom.js';
import { brandingPanel, type Organization } from './settings-branding.js';
import { originsEditor } from './settings-origins.js';
import { attachmentsPanel } from './settings-attachments.js';
import { hoursPanel, type BusinessHours } from './settings-hours.js';
import { errorText, section, uid } from './ui.js';

type Choice<T extends string> = [T, string, string];
const MODES: Choice<'bot' | 'human'>[] = [
  ['bot', 'Bot answers first', 'The bot answers new visitors; it hands over to a person when asked.'],
  ['human', 'Straight to a person', 'New visitors go to the agents’ queue at once; the bot stays out.'],
];
const OFFLINE: Choice<'message' | 'hide'>[] = [
  [
    'message',
    'Show the offline message',
    'While no agent is online the widget stays and shows the offline message; messages wait in the queue.',
  ],
  [
    'hide',
    'Hide the launcher',
    'While no agent is online the floating launcher is hidden, except for visitors already in a conversation.',
  ],
];

/** A labelled select whose one-line description follows the chosen option. */
function flag<T extends string>(label: string, name: string, choices: Choice<T>[], value: T) {
  const id = uid(`flag-${name}`);
  const sel = h(
    'select',
    { id, name, 'aria-describedby': `${id}-d` },
    ...choices.map(([v, l]) => h('option', { value: v, selected: v === value }, l)),
  );
  const line = h('div', { id: `${id}-d`, class: 'muted flag-line' });
  const describe = () => (line.textContent = choices.find(([v]) => v === sel.value)?.[2] ?? '');
  sel.addEventListener('change', describe);
  describe();
  return { el: h('div', { class: 'field' }, h('label', { for: id }, label), sel, line), sel };
}

function flagsPanel(org: Organization, onSaved: (org: Organization) => void) {
  const mode = flag('Bot mode default', 'default_mode', MODES, org.default_mode);
  const offline = flag('Offline behaviour', 'offline_behaviour', OFFLINE, org.offline_behaviour);
  const status = h('p', { class: 'muted', role: 'status' });
  const alert = h('p', { class: 'error-text', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save flags');
  const f = h(
    'form',
    { class: 'card-form flags', 'aria-labelledby': 'flags-title' },
    h('h2', { id: 'flags-title' }, 'Feature flags'),
    mode.el,
    offline.el,
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Identity mode'),
      h(
        'dd',
        {},
        h('code', { class: 'identity-mode' }, org.identity_mode),
        ' — ',
        h('a', { href: '#identity' }, 'change it in Identity'),
      ),
    ),
    save,
    alert,
    status,
  );
  f.addEventListener('change', () => (status.textContent = ''));
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    alert.textContent = '';
    save.disabled = true;
    api<Organization>('PATCH', '/api/organization', {
      default_mode: mode.sel.value,
      offline_behaviour: offline.sel.value,
    })
      .then((next) => {
        const m = MODES.find(([v]) => v === next.default_mode)?.[1] ?? next.default_mode;
        const o = OFFLINE.find(([v]) => v === next.offline_behaviour)?.[1] ?? next.offline_behaviour;
        status.textContent = `Saved: ${m}; while offline: ${o}.`;
        onSaved(next);
      })
      .catch((e: unknown) => (alert.textContent = errorText(e)))
      .finally(() => (save.disabled = false));
  });
  return {
    el: f,
    offlineBehaviour: () => offline.sel.value as 'message' | 'hide',
    offlineSelect: offline.sel,
  };
}

/** Owners type the name and delete; others see the button disabled and why. */
function dangerZone(isOwner: boolean, name: () => string): { el: HTMLElement; renamed: () => void } {
  const title = h('h2', { id: 'danger-title' }, 'Danger zone');
  const what = h(
    'p',
    {},
    'Deleting the organization deletes everything in it at once: conversations, visitors, bots, ' +
      'knowledge, webhooks, keys and every member’s access. It cannot be undone.',
  );
  if (!isOwner) {
    const whyId = uid('why');
    const el = h(
      'section',
      { class: 'panel danger-zone', 'aria-labelledby': 'danger-title' },
      title,
      what,
      h(
        'button',
        { type: 'button', class: 'danger', disabled: true, 'aria-describedby': whyId },
        'Delete organization',
      ),
      h('p', { id: whyId, class: 'notice-text' }, 'Only an owner can delete the organization'),
    );
    return { el, renamed: () => {} };
  }
  const id = uid('confirm-name');
  const input = h('input', { id, type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const label = h('label', { for: id });
  const button = h('button', { type: 'submit', class: 'danger', disabled: true }, 'Delete organization');
  const alert = h('p', { class: 'error-text', role: 'alert' });
  const sync = () => {
    label.textContent = `Type the organization’s name (${name()}) to confirm`;
    button.disabled = input.value !== name();
  };
  input.addEventListener('input', () => {
    alert.textContent = '';
    sync();
  });
  sync();
  const f = h(
    'form',
    { class: 'panel danger-zone', 'aria-labelledby': 'danger-title' },
    title,
    what,
    h('div', { class: 'field' }, label, input),
    button,
    alert,
  );
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (input.value !== name()) return;
    button.disabled = true;
    api('DELETE', '/api/organization', { confirm_name: input.value })
      // The session ended with the organization: back to the sign-in page.
      .then(() => location.assign('/auth/login'))
      .catch((e: unknown) => {
        alert.textContent =
          e instanceof ApiError && e.status === 403
            ? 'Only an owner can delete the organization'
            : errorText(e);
        sync();
      });
  });
  return { el: f, renamed: sync };
}

/** The section; `isOwner` decides whether deleting is offered (the server checks again). */
export async function settingsSection(isOwner: boolean): Promise<HTMLElement> {
  let org = await api<Organization>('GET', '/api/organization');
  const danger = dangerZone(isOwner, () => org.name);
  const update = (next: Organization) => {
    org = next;
    danger.renamed();
  };
  const flags = flagsPanel(org, update);
  const branding = brandingPanel(org, flags.offlineBehaviour, update);
  flags.offlineSelect.addEventListener('change', branding.refresh);
  return section(
    'Widget & origins',
    'Where your widget may run, how it looks and behaves. Changes apply the next time a widget loads.',
    h(
      'div',
      { class: 'settings' },
      originsEditor(org.allowed_origins, (list) => update({ ...org, allowed_origins: list })),
      branding.el,
      flags.el,
      hoursPanel((org as { business_hours?: BusinessHours }).business_hours ?? null, () => undefined).el,
      attachmentsPanel((org as { attachment_max_bytes?: number | null }).attachment_max_bytes ?? null).el,
      danger.el,
    ),
  );
}
