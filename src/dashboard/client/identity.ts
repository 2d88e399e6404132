// Company → Identity & keys: the organization's ids and keys (the tenant secret only as its hint),
// how end users prove who they are (the organization's mode and each channel's override), the
// rotation of the secret (owners only) and the user_hash recipe for the tenant's backend.
import { api, ApiError, h } from '../../inbox/client/dom.js';
import { codeBlock, errorText, form, row, section, secretBox, select, table } from './ui.js';

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
const GRACE: [string, string][] = [
  ['0', 'None: it stops verifying at once'],
  ['1', '1 hour'],
  ['24', '24 hours'],
  ['168', '7 days'],
];
const ENV = 'SWITCHBOARD_TENANT_SECRET';

const uid = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
const localTime = (iso: string) =>
  new Date(iso).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });

/** "1 h left", "25 min left": what remains of a grace period ending at `until`. */
function timeLeft(until: string, now = Date.now()): string {
  const minutes = Math.max(1, Math.ceil((Date.parse(until) - now) / 60_000));
  return minutes >= 60 ? `${Math.round(minutes / 60)} h left` : `${minutes} min left`;
}

function keys(org: Organization): HTMLElement {
  const until = org.previous_secret_valid_until;
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'keys-title' },
    h('h3', { id: 'keys-title' }, 'Keys'),
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
        h(
          'span',
          { class: 'muted' },
          '(its last four characters: the secret itself is shown only when it is made)',
        ),
      ),
      until
        ? h(
            'dd',
            { class: 'notice grace' },
            `Previous secret valid until ${localTime(until)} (${timeLeft(until)})`,
          )
        : null,
    ),
  );
}

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
    h('h3', { id: 'overrides-title' }, 'Channel overrides'),
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

/** Owners choose a grace period, confirm, and get the new secret once; others see why they can't. */
function rotation(
  isOwner: boolean,
  current: () => Organization,
  onRotated: (org: Organization, secret: string) => void,
): HTMLElement {
  const title = 'Rotate the tenant secret';
  const intro = h(
    'p',
    { class: 'muted' },
    'A new secret replaces the current one. During the grace period both verify, so your backends can ' +
      'switch to the new one without refusing anyone.',
  );
  if (!isOwner) {
    const whyId = uid('why');
    return h(
      'section',
      { class: 'panel', 'aria-labelledby': 'rotate-title' },
      h('h3', { id: 'rotate-title' }, title),
      intro,
      h(
        'button',
        { type: 'button', class: 'primary', disabled: true, 'aria-describedby': whyId },
        'Rotate secret…',
      ),
      h(
        'p',
        { id: whyId, class: 'notice-text' },
        'Only an owner can rotate the tenant secret. Ask an owner of your organization to do it.',
      ),
    );
  }
  const grace = select('Grace period for the current secret', 'grace_hours', GRACE, '24');
  const graceSel = grace.querySelector('select')!;
  const question = h('p', {});
  const confirmBtn = h('button', { type: 'submit', class: 'danger' }, 'Confirm rotation');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const confirm = h('div', { class: 'warning', hidden: true }, question, confirmBtn, ' ', cancel);
  let armed = false;
  const arm = (on: boolean) => {
    armed = on;
    confirm.hidden = !on;
    start.hidden = on;
  };
  const f = form(title, [intro, grace, confirm], 'Rotate secret…', async (d) => {
    if (!armed) {
      const org = current();
      const hours = Number(d.grace_hours);
      const label = GRACE.find(([v]) => v === d.grace_hours)?.[1] ?? `${hours} hours`;
      question.textContent =
        (hours > 0
          ? `The current secret (${org.tenant_secret_hint}) keeps verifying for ${label}, then stops.`
          : `The current secret (${org.tenant_secret_hint}) stops verifying at once: user_hash values made with it are refused.`) +
        (org.previous_secret_valid_until ? ' The secret before it stops verifying at once.' : '') +
        ' The new secret is shown once.';
      arm(true);
      confirmBtn.focus();
      return;
    }
    confirmBtn.disabled = true;
    try {
      const res = await api<Organization & { tenant_secret: string }>(
        'POST',
        '/api/organization/secret/rotate',
        {
          grace_hours: Number(d.grace_hours),
        },
      );
      arm(false);
      const { tenant_secret: secret, ...org } = res;
      onRotated(org, secret);
    } catch (e) {
      arm(false);
      if (e instanceof ApiError && e.status === 403 && e.code === 'auth/forbidden') {
        throw new ApiError(403, e.code, `Only owners can rotate the tenant secret (${e.message}).`);
      }
      throw e;
    } finally {
      confirmBtn.disabled = false;
    }
  });
  const start = f.querySelector<HTMLButtonElement>('button.primary')!;
  cancel.addEventListener('click', () => {
    arm(false);
    start.focus();
  });
  graceSel.addEventListener('change', () => arm(false));
  return f;
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
    h('h3', { id: 'recipe-title' }, 'How to compute user_hash'),
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

/** The section; `isOwner` decides whether the rotation is offered (the server checks again). */
export async function identitySection(isOwner: boolean): Promise<HTMLElement> {
  const [first, bots] = await Promise.all([
    api<Organization>('GET', '/api/organization'),
    api<Bot[]>('GET', '/api/bots'),
  ]);
  let org = first;
  const once = h('div', { class: 'once' });
  const defaultOptions: HTMLOptionElement[] = [];
  let keysEl = keys(org);
  let recipeEl = recipe(org);
  const update = (next: Organization) => {
    org = next;
    const k = keys(org);
    const r = recipe(org);
    keysEl.replaceWith(k);
    recipeEl.replaceWith(r);
    keysEl = k;
    recipeEl = r;
    for (const o of defaultOptions) o.textContent = `Organization default (${org.identity_mode})`;
  };
  return section(
    'Identity & keys',
    'How widget visitors and app users prove who they are, and the keys your backend signs their ids with.',
    once,
    keysEl,
    modeForm(org.identity_mode, update),
    overrides(bots, defaultOptions, org.identity_mode),
    rotation(
      isOwner,
      () => org,
      (next, secret) => {
        update(next);
        once.replaceChildren(
          secretBox(
            'New tenant secret',
            secret,
            `This is the only time it is shown: it won’t be shown again. Store it in your backend’s ` +
              `secret store as ${ENV}; from now on the dashboard shows only ${next.tenant_secret_hint}.`,
          ),
        );
        once.scrollIntoView({ block: 'start' });
        once.querySelector('button')?.focus();
      },
    ),
    recipeEl,
  );
}
