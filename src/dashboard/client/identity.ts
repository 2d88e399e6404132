// Company → Identity: how end users prove who they are (the organization's mode and each channel's
// override) and the user_hash recipe for the tenant's backend. The keys are in keys.ts.
import { api, h } from '../../inbox/client/dom.js';
import { SECRET_ENV as ENV } from './keys.js';
import { codeBlock, errorText, form, row, section, table, uid } from './ui.js';

type Mode = 'verified' | 'anonymous' | 'off';
type Organization = {
  id: string;
  name: string;
  widget_public_key: string;
  tenant_secret_hint: string;
  previous_secret_valid_until: string | null;
  identity_mode: Mode;
};
type Bot = {
  id: string;
  name: string;
  webchat_channel_id: string | null;
  mobile_channel_id: string | null;
  webchat_identity_mode: Mode | null;
  mobile_identity_mode: Mode | null;
};

const MODES: [Mode, string, string][] = [
  ['verified', 'Verified', 'random visitor ids, and user ids with their user_hash — recommended'],
  ['anonymous', 'Anonymous', 'random visitor ids only'],
  ['off', 'Off', 'anyone who knows a user id can act as that user — unsafe'],
];
const OFF_WARNING =
  'Off lets anyone who knows or guesses a user id (user-1001) read and write that user’s conversations ' +
  'and register push tokens for them. Use it only for a closed kiosk or a migration.';

/** The organization's mode; turning verification off needs "I understand" ticked first. */
function modeForm(initial: Mode, onSaved: (org: Organization) => void): HTMLFormElement {
  let saved = initial;
  const radios = MODES.map(([value, label, description]) => {
    const id = uid(`mode-${value}`);
    return h(
      'div',
      { class: 'choice' },
      h('input', {
        type: 'radio',
        name: 'identity_mode',
        id,
        value,
        checked: value === saved,
        'aria-describedby': `${id}-d`,
      }),
      h('label', { for: id }, label),
      h('span', { id: `${id}-d`, class: 'muted' }, `— ${description}`),
    );
  });
  const choices = h(
    'fieldset',
    { class: 'choices' },
    h('legend', {}, 'How end users prove who they are'),
    ...radios,
  );
  const understandId = uid('understand');
  // Disabled while hidden, so the browser's own check (required) applies only when it shows.
  const understand = h('input', { type: 'checkbox', id: understandId, name: 'understand', required: true });
  const warning = h(
    'div',
    { class: 'warning', role: 'group', 'aria-label': 'Confirm turning verification off' },
    h('p', {}, OFF_WARNING),
    h(
      'div',
      { class: 'choice' },
      understand,
      h('label', { for: understandId }, 'I understand: anyone who knows a user id can act as that user'),
    ),
  );
  const status = h('p', { class: 'muted', role: 'status' });
  const chosen = () => choices.querySelector<HTMLInputElement>('input:checked')?.value as Mode | undefined;
  const syncWarning = () => {
    const show = chosen() === 'off' && saved !== 'off';
    warning.hidden = !show;
    understand.disabled = !show;
    if (!show) understand.checked = false;
  };
  choices.addEventListener('change', () => {
    status.textContent = '';
    syncWarning();
  });
  syncWarning();
  const f = form('Identity mode', [choices, warning], 'Save identity mode', async (d) => {
    status.textContent = '';
    const org = await api<Organization>('PATCH', '/api/organization', { identity_mode: d.identity_mode });
    saved = org.identity_mode;
    syncWarning();
    status.textContent = `Saved: the organization’s identity mode is ${saved}.`;
    onSaved(org);
  });
  f.append(status);
  return f;
}

/** One channel's own mode; choosing off asks again in the row before it is saved. */
function overrideRow(
  botName: string,
  kind: string,
  channelId: string,
  mode: Mode | null,
  defaultOption: HTMLOptionElement,
): HTMLTableRowElement {
  let saved: string = mode ?? '';
  defaultOption.selected = saved === '';
  const sel = h(
    'select',
    { 'aria-label': `Identity mode of ${botName} (${kind})` },
    defaultOption,
    ...MODES.map(([v, l]) => h('option', { value: v, selected: v === saved }, l)),
  );
  const status = h('span', { class: 'muted', role: 'status' });
  const alert = h('span', { class: 'error-text', role: 'alert' });
  const confirmOff = h('button', { type: 'button', class: 'danger' }, 'Turn verification off');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const confirm = h(
    'span',
    { class: 'inline-confirm', hidden: true },
    h('span', {}, 'Unsafe: anyone who knows a user id can act as that user. '),
    confirmOff,
    ' ',
    cancel,
  );
  async function save(value: string) {
    sel.disabled = true;
    try {
      const ch = await api<{ identity_mode: Mode | null }>('PATCH', `/api/channels/${channelId}`, {
        identity_mode: value === '' ? null : value,
      });
      saved = ch.identity_mode ?? '';
      sel.value = saved;
      status.textContent = saved ? `Saved: ${saved}` : 'Saved: organization default';
    } catch (e) {
      sel.value = saved;
      alert.textContent = errorText(e);
    } finally {
      sel.disabled = false;
    }
  }
  sel.addEventListener('change', () => {
    status.textContent = '';
    alert.textContent = '';
    confirm.hidden = true;
    if (sel.value === 'off' && saved !== 'off') {
      confirm.hidden = false;
      confirmOff.focus();
      return;
    }
    void save(sel.value);
  });
  confirmOff.addEventListener('click', () => {
    confirm.hidden = true;
    void save('off').then(() => sel.focus());
  });
  cancel.addEventListener('click', () => {
    confirm.hidden = true;
    sel.value = saved;
    sel.focus();
  });
  return row(
    botName,
    kind,
    h('code', {}, channelId),
    h('div', { class: 'override' }, sel, confirm, status, alert),
  );
}

function overrides(bots: Bot[], defaultOptions: HTMLOptionElement[], orgMode: Mode): HTMLElement {
  const option = () => {
    const o = h('option', { value: '' }, `Organization default (${orgMode})`);
    defaultOptions.push(o);
    return o;
  };
  const rows = bots.flatMap((b) => [
    ...(b.webchat_channel_id
      ? [overrideRow(b.name, 'Web chat', b.webchat_channel_id, b.webchat_identity_mode, option())]
      : []),
    ...(b.mobile_channel_id
      ? [overrideRow(b.name, 'Mobile SDK', b.mobile_channel_id, b.mobile_identity_mode, option())]
      : []),
  ]);
  const noMobile = bots.filter((b) => !b.mobile_channel_id).map((b) => b.name);
  return h(
    'section',
    { class: 'panel wide overrides', 'aria-labelledby': 'overrides-title' },
    h('h2', { id: 'overrides-title' }, 'Channel overrides'),
    h('p', { class: 'muted' }, 'A channel with a mode of its own uses it instead of the organization’s.'),
    table(
      ['Bot', 'Channel', 'Channel ID', 'Identity mode'],
      rows,
      'No channels yet: create a bot first (Bots).',
    ),
    noMobile.length && rows.length
      ? h(
          'p',
          { class: 'muted' },
          `Without a mobile channel yet: ${noMobile.join(', ')}. It appears here once created (Mobile SDK).`,
        )
      : null,
  );
}

function recipe(org: Organization): HTMLElement {
  const who = `the tenant secret of organization ${org.id} (${org.tenant_secret_hint})`;
  const node =
    `import { createHmac } from 'node:crypto';\n\n` +
    `// ${ENV}: ${who}.\n` +
    `// Keep it on your servers: never send it to a browser or an app.\n` +
    `const userHash = createHmac('sha256', process.env.${ENV}).update(user.id).digest('hex');`;
  const python =
    `import hashlib, hmac, os\n\n` +
    `# ${ENV}: ${who}.\n` +
    `user_hash = hmac.new(os.environ["${ENV}"].encode(), user_id.encode(), hashlib.sha256).hexdigest()`;
  return h(
    'section',
    { class: 'panel wide', 'aria-labelledby': 'recipe-title' },
    h('h2', { id: 'recipe-title' }, 'How to compute user_hash'),
    h(
      'p',
      { class: 'muted' },
      'Your backend computes user_hash = hex(hmac_sha256(tenant_secret, user id)) when the user signs in and ' +
        'hands it to the page (data-user-id and data-user-hash on the widget’s script tag) or the app with ' +
        'the user id. With a routing key, sign user id + "\\n" + routing key instead.',
    ),
    codeBlock('Node', node),
    codeBlock('Python', python),
  );
}

/** The section: the organization's mode, each channel's own, and the user_hash recipe. */
export async function identitySection(): Promise<HTMLElement> {
  const [first, bots] = await Promise.all([
    api<Organization>('GET', '/api/organization'),
    api<Bot[]>('GET', '/api/bots'),
  ]);
  let org = first;
  const defaultOptions: HTMLOptionElement[] = [];
  let recipeEl = recipe(org);
  const update = (next: Organization) => {
    org = next;
    const r = recipe(org);
    recipeEl.replaceWith(r);
    recipeEl = r;
    for (const o of defaultOptions) o.textContent = `Organization default (${org.identity_mode})`;
  };
  return section(
    'Identity',
    'How widget visitors and app users prove who they are, and how your backend signs their ids. ' +
      'The keys themselves are under Tenant keys.',
    modeForm(org.identity_mode, update),
    overrides(bots, defaultOptions, org.identity_mode),
    recipeEl,
  );
}
