// Widget & origins → Allowed origins: the sites and apps a widget may run on. The browser checks
// each origin with the server's rule (src/shared/validation.ts `origin`) so a refusal shows at once,
// beside the field; the server checks again and its refusals show there too.
import { api, ApiError, h } from '../../inbox/client/dom.js';
import { errorText, uid } from './ui.js';

export const MAX_ORIGINS = 100;
const SHAPE = 'an origin is only scheme://host[:port]';

/**
 * `scheme://host[:port]` as the server stores it (`https://Shop.example.com/` →
 * `https://shop.example.com`), or why the text is not an origin.
 */
export function parseOrigin(raw: string): { origin: string } | { error: string } {
  const v = raw.trim();
  if (!v) return { error: 'Type an origin such as https://shop.example.com or app://my_app' };
  if (v.length > 255) return { error: 'An origin is at most 255 characters' };
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return { error: `${v} is not a URL: ${SHAPE}, such as https://shop.example.com` };
  }
  if (!u.host) return { error: `${v} has no host: ${SHAPE}` };
  if (u.username || u.password) return { error: `${v} has a user name: ${SHAPE}` };
  if (u.pathname !== '' && u.pathname !== '/') return { error: `${v} has a path: ${SHAPE}` };
  if (u.search) return { error: `${v} has a query: ${SHAPE}` };
  if (u.hash) return { error: `${v} has a fragment: ${SHAPE}` };
  return { origin: `${u.protocol}//${u.host}` };
}

/** A `request/invalid` refusal naming `allowed_origins.<n>`, as the index and the reason. */
function refusedOrigin(e: unknown): { index: number | null; reason: string } | null {
  if (!(e instanceof ApiError) || e.code !== 'request/invalid') return null;
  const m = /^Invalid parameter 'allowed_origins(?:\.(\d+))?': (.+)$/s.exec(e.message);
  return m ? { index: m[1] === undefined ? null : Number(m[1]), reason: m[2]! } : null;
}

/** The editor: the list with a Remove button each, a field to add one, Save sends the list. */
export function originsEditor(initial: string[], onSaved: (origins: string[]) => void): HTMLElement {
  let saved = [...initial];
  let list = [...initial];
  const inputId = uid('origin');
  const errorId = `${inputId}-error`;
  const hintId = `${inputId}-hint`;
  const input = h('input', {
    id: inputId,
    type: 'text',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'https://shop.example.com',
    'aria-describedby': `${errorId} ${hintId}`,
  });
  const fieldError = h('div', { id: errorId, class: 'error-text field-error', role: 'alert' });
  const add = h('button', { type: 'button' }, 'Add origin');
  const items = h('ul', { class: 'origin-list', 'aria-label': 'Allowed origins' });
  const empty = h(
    'p',
    { class: 'notice-text origin-empty' },
    'No origin is listed: no site or app can open the widget.',
  );
  const status = h('p', { class: 'muted', role: 'status' });
  const alert = h('p', { class: 'error-text', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save origins');
  const unsaved = h(
    'span',
    { id: `${inputId}-unsaved`, class: 'notice-text', hidden: true },
    ' Not saved yet',
  );

  const refuse = (message: string) => {
    fieldError.textContent = message;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  };
  const clearRefusal = () => {
    fieldError.textContent = '';
    input.removeAttribute('aria-invalid');
  };
  const dirty = () => list.join('\n') !== saved.join('\n');

  function draw() {
    items.replaceChildren(
      ...list.map((o) => {
        const remove = h('button', { type: 'button', 'aria-label': `Remove ${o}` }, 'Remove');
        remove.addEventListener('click', () => {
          const at = list.indexOf(o);
          list = list.filter((x) => x !== o);
          draw();
          status.textContent = `${o} removed: save to apply.`;
          // Focus stays in the list: the next Remove button, else the field.
          const next = items.querySelectorAll('button')[Math.min(at, list.length - 1)];
          (next ?? input).focus();
        });
        return h('li', { 'data-origin': o }, h('code', {}, o), ' ', remove);
      }),
    );
    items.hidden = list.length === 0;
    empty.hidden = list.length > 0;
    save.setAttribute('aria-describedby', dirty() ? `${inputId}-unsaved` : '');
    unsaved.hidden = !dirty();
  }

  function addFromInput() {
    alert.textContent = '';
    const parsed = parseOrigin(input.value);
    if ('error' in parsed) return refuse(parsed.error);
    if (list.includes(parsed.origin)) return refuse(`${parsed.origin} is already in the list`);
    if (list.length >= MAX_ORIGINS) return refuse(`At most ${MAX_ORIGINS} origins`);
    list = [...list, parsed.origin];
    input.value = '';
    clearRefusal();
    draw();
    status.textContent = `${parsed.origin} added: save to apply.`;
  }

  add.addEventListener('click', addFromInput);
  input.addEventListener('input', clearRefusal);
  // Enter in the field adds the origin; it does not save the list.
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      addFromInput();
    }
  });

  const f = h(
    'form',
    { class: 'card-form origins', 'aria-labelledby': 'origins-title' },
    h('h2', { id: 'origins-title' }, 'Allowed origins'),
    h(
      'p',
      { class: 'muted' },
      'The sites and apps where your widget may run. A web page’s origin is https://host (and a port ' +
        'if it is not the default); an app names its own scheme, such as app://my_app.',
    ),
    h(
      'ul',
      { class: 'muted origin-rules' },
      h(
        'li',
        {},
        'A site not listed is refused: its widget-config call answers 403 origin/forbidden without ' +
          'CORS permission, and the browser does not even send its visitor-session call, so no ' +
          'conversation starts. Its visitors see a launcher without your branding that, opened, keeps ' +
          'saying “Reconnecting…”; the browser’s console says the calls were blocked by CORS policy.',
      ),
      h(
        'li',
        {},
        'An app or server (no browser) naming an origin not listed gets 403 origin/forbidden when it ' +
          'creates a visitor session.',
      ),
      h('li', {}, 'An empty list allows no site at all.'),
    ),
    items,
    empty,
    h(
      'div',
      { class: 'field' },
      h('label', { for: inputId }, 'Origin to add'),
      h('div', { class: 'origin-add' }, input, add),
      h('div', { id: hintId, class: 'muted' }, 'scheme://host[:port], no path: https://shop.example.com'),
      fieldError,
    ),
    h('div', {}, save, unsaved),
    alert,
    status,
  );
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    alert.textContent = '';
    status.textContent = '';
    save.disabled = true;
    api<{ allowed_origins: string[] }>('PATCH', '/api/organization', { allowed_origins: list })
      .then((org) => {
        saved = [...org.allowed_origins];
        list = [...org.allowed_origins];
        draw();
        status.textContent = `Saved: ${list.length} ${list.length === 1 ? 'origin' : 'origins'} allowed.`;
        onSaved(saved);
      })
      .catch((e: unknown) => {
        const r = refusedOrigin(e);
        if (r) {
          const which = r.index === null ? '' : `${list[r.index] ?? ''}: `;
          refuse(`${which}${r.reason}`);
        } else alert.textContent = errorText(e);
      })
      .finally(() => (save.disabled = false));
  });
  draw();
  return f;
}
