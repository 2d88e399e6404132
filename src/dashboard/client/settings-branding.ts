// Widget & origins → Branding: the organization's name and the widget's colour, texts, locale and
// avatar, beside a live preview. The preview is the real <switchboard-chat> (loaded by the page
// from /sdk/switchboard-chat.js) in preview mode: it draws the form's values and makes no request.
import { api, ApiError, h } from '../../inbox/client/dom.js';
import { errorText, labelled, uid, type Field } from './ui.js';

export type Branding = {
  primary_color?: string;
  greeting?: string;
  launcher_text?: string;
  avatar_url?: string;
  offline_message?: string;
};
export type Organization = {
  id: string;
  name: string;
  identity_mode: string;
  allowed_origins: string[];
  locale: string;
  default_mode: 'bot' | 'human';
  offline_behaviour: 'message' | 'hide';
  branding: Branding;
};

/** The widget config `<switchboard-chat>`'s `preview()` draws (its `WidgetConfig`). */
type PreviewConfig = {
  tenant_id: string;
  tenant_name: string;
  is_online: boolean;
  locale: string;
  branding: Record<string, string>;
  offline_behaviour: 'message' | 'hide';
};
/** The element's preview surface, typed here so the dashboard bundle does not import the package. */
interface PreviewChat extends HTMLElement {
  preview(config: PreviewConfig): void;
}

const LOCALES: [string, string][] = [
  ['en', 'English (en)'],
  ['en-GB', 'English, UK (en-GB)'],
  ['fr', 'Français (fr)'],
  ['fr-CA', 'Français, Canada (fr-CA)'],
  ['de', 'Deutsch (de)'],
  ['es', 'Español (es)'],
  ['it', 'Italiano (it)'],
  ['nl', 'Nederlands (nl)'],
  ['pt', 'Português (pt)'],
  ['pt-BR', 'Português, Brasil (pt-BR)'],
];
const HEX = /^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;
const DEFAULT_COLOR = '#2563eb';
const TEXTS = ['launcher_text', 'greeting', 'offline_message', 'avatar_url'] as const;
type Key = 'name' | 'primary_color' | 'locale' | (typeof TEXTS)[number];

/** `#abc` → `#aabbcc`, which `<input type=color>` needs. */
const longHex = (c: string) =>
  c.length === 4 ? `#${[...c.slice(1)].map((x) => x + x).join('')}`.toLowerCase() : c.toLowerCase();

function httpUrl(value: string): string | null {
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

/**
 * The branding form and its preview. `offlineBehaviour` is the feature flag's current choice (the
 * preview's offline look follows it); call the returned `refresh` when it changes.
 */
export function brandingPanel(
  org: Organization,
  offlineBehaviour: () => 'message' | 'hide',
  onSaved: (org: Organization) => void,
): { el: HTMLElement; refresh: () => void } {
  const b = org.branding;
  const text = (name: Key, value: string | undefined, max: number) =>
    h('input', { name, type: 'text', value: value ?? '', maxlength: max, autocomplete: 'off' });
  const area = (name: Key, value: string | undefined) => {
    const t = h('textarea', { name, rows: 3, maxlength: 500 });
    t.value = value ?? '';
    return t;
  };
  const localeOptions = LOCALES.some(([v]) => v === org.locale)
    ? LOCALES
    : [[org.locale, org.locale] as [string, string], ...LOCALES];
  const fields = {
    name: labelled('Organization name', text('name', org.name, 200), 'The widget’s title'),
    primary_color: labelled(
      'Primary colour (hex)',
      text('primary_color', b.primary_color, 7),
      'Such as #1f6feb; empty: the widget’s own blue',
    ),
    launcher_text: labelled('Launcher text', text('launcher_text', b.launcher_text, 60)),
    greeting: labelled(
      'Greeting',
      area('greeting', b.greeting),
      'The first bubble of a new conversation (shown, never stored)',
    ),
    offline_message: labelled(
      'Offline message',
      area('offline_message', b.offline_message),
      'Shown while no agent is online (empty: the widget’s default)',
    ),
    locale: labelled(
      'Locale',
      h(
        'select',
        { name: 'locale' },
        ...localeOptions.map(([v, l]) => h('option', { value: v, selected: v === org.locale }, l)),
      ),
      'The widget’s language when the page does not choose one',
    ),
    avatar_url: labelled(
      'Avatar URL',
      h('input', { name: 'avatar_url', type: 'url', value: b.avatar_url ?? '', autocomplete: 'off' }),
      'An https:// image shown in the widget’s header',
    ),
  } satisfies Record<Key, Field>;
  const value = (k: Key) => fields[k].control.value.trim();

  // The colour picker and the hex field stay in step; the hex field is what is saved.
  const colorText = fields.primary_color.control as HTMLInputElement;
  const picker = h('input', {
    type: 'color',
    value: longHex(HEX.test(b.primary_color ?? '') ? b.primary_color! : DEFAULT_COLOR),
    'aria-label': 'Primary colour (picker)',
  });
  colorText.before(h('span', { class: 'color-pair' }, picker));
  picker.parentElement!.append(colorText);
  picker.addEventListener('input', () => {
    colorText.value = picker.value;
    colorText.dispatchEvent(new Event('input', { bubbles: true }));
  });
  colorText.addEventListener('input', () => {
    if (HEX.test(colorText.value.trim())) picker.value = longHex(colorText.value.trim());
  });

  // The preview: online or offline, as the admin picks.
  const offlineId = uid('preview-offline');
  const asOffline = h('input', { type: 'checkbox', id: offlineId });
  const chat = document.createElement('switchboard-chat') as PreviewChat;
  chat.setAttribute('preview', '');
  chat.setAttribute('mode', 'panel');
  const previewNote = h('p', { class: 'muted', role: 'status' });
  const preview = h(
    'figure',
    { class: 'settings-preview', 'aria-labelledby': `${offlineId}-caption` },
    h(
      'figcaption',
      { id: `${offlineId}-caption` },
      h('strong', {}, 'Preview'),
      ' — as you type, before saving',
    ),
    h(
      'div',
      { class: 'choice' },
      asOffline,
      h('label', { for: offlineId }, 'Preview while no agent is online'),
    ),
    chat,
    previewNote,
  );

  function config(): PreviewConfig {
    const branding: Record<string, string> = {};
    const color = value('primary_color');
    if (HEX.test(color)) branding.primary_color = color;
    for (const k of ['launcher_text', 'greeting', 'offline_message'] as const) {
      if (value(k)) branding[k] = value(k);
    }
    const avatar = httpUrl(value('avatar_url'));
    if (avatar) branding.avatar_url = avatar;
    return {
      tenant_id: org.id,
      tenant_name: value('name') || org.name,
      is_online: !asOffline.checked,
      locale: value('locale') || org.locale,
      branding,
      offline_behaviour: offlineBehaviour(),
    };
  }
  let ready = false;
  const refresh = () => {
    if (ready) chat.preview(config());
  };
  if (customElements.get('switchboard-chat')) {
    ready = true;
  } else {
    previewNote.textContent = 'Loading the preview…';
  }
  void customElements.whenDefined('switchboard-chat').then(() => {
    ready = true;
    previewNote.textContent = '';
    refresh();
  });
  asOffline.addEventListener('change', refresh);

  const status = h('p', { class: 'muted', role: 'status' });
  const alert = h('p', { class: 'error-text', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save branding');
  const f = h(
    'form',
    { class: 'card-form branding-form', 'aria-labelledby': 'branding-title', novalidate: true },
    h('h2', { id: 'branding-title' }, 'Branding'),
    ...Object.values(fields).map((x) => x.el),
    save,
    alert,
    status,
  );
  f.addEventListener('input', () => {
    status.textContent = '';
    refresh();
  });
  f.addEventListener('change', refresh);

  const refuse = (k: Key, message: string) => {
    fields[k].error.textContent = message;
    fields[k].control.setAttribute('aria-invalid', 'true');
    fields[k].control.focus();
  };
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    alert.textContent = '';
    status.textContent = '';
    // The browser says at once what the server would refuse.
    if (!value('name')) return refuse('name', 'The organization needs a name');
    if (value('primary_color') && !HEX.test(value('primary_color')))
      return refuse('primary_color', `${value('primary_color')} is not a hex colour such as #1f6feb`);
    if (value('avatar_url') && !httpUrl(value('avatar_url')))
      return refuse('avatar_url', 'The avatar must be an http(s) URL such as https://cdn.example.com/me.png');
    const patch: Record<string, string | null> = {
      name: value('name'),
      locale: value('locale'),
      primary_color: value('primary_color') || null,
    };
    for (const k of TEXTS) patch[k] = value(k) || null;
    save.disabled = true;
    api<Organization>('PATCH', '/api/organization', patch)
      .then((next) => {
        status.textContent = 'Saved: visitors see the new branding the next time their widget loads.';
        onSaved(next);
      })
      .catch((e: unknown) => {
        const m =
          e instanceof ApiError && e.code === 'request/invalid'
            ? /^Invalid parameter '([^']+)': (.+)$/s.exec(e.message)
            : null;
        const k = m?.[1] as Key | undefined;
        if (m && k && k in fields) refuse(k, `${m[2]![0]!.toUpperCase()}${m[2]!.slice(1)}`);
        else alert.textContent = errorText(e);
      })
      .finally(() => (save.disabled = false));
  });

  const el = h('section', { class: 'settings-branding', 'aria-label': 'Branding and preview' }, f, preview);
  return { el, refresh };
}
