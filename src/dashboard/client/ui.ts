// Building blocks of the dashboard sections: forms with an error line, tables, one-time secrets.
import { ApiError, copyText, h } from '../../inbox/client/dom.js';

export function errorText(e: unknown): string {
  return e instanceof ApiError ? e.message : 'Something went wrong; try again';
}

/** A labelled input; `name` is the form field. */
export function field(
  label: string,
  name: string,
  opts: { type?: string; required?: boolean; placeholder?: string; value?: string; textarea?: boolean } = {},
): HTMLElement {
  const id = `f-${name}-${Math.random().toString(36).slice(2, 8)}`;
  const input = opts.textarea
    ? h('textarea', { id, name, rows: 4, required: opts.required, placeholder: opts.placeholder })
    : h('input', {
        id,
        name,
        type: opts.type ?? 'text',
        required: opts.required,
        placeholder: opts.placeholder,
        value: opts.value,
        autocomplete: 'off',
      });
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

export function select(
  label: string,
  name: string,
  options: [string, string][],
  value?: string,
): HTMLElement {
  const id = `f-${name}-${Math.random().toString(36).slice(2, 8)}`;
  const el = h(
    'select',
    { id, name },
    ...options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)),
  );
  return h('div', { class: 'field' }, h('label', { for: id }, label), el);
}

/**
 * A form that submits its fields as an object to `onSubmit`; errors from the server appear on
 * the form's own alert line and the inputs keep their values.
 */
export function form(
  title: string,
  fields: HTMLElement[],
  submitLabel: string,
  onSubmit: (data: Record<string, string>, form: HTMLFormElement) => Promise<void>,
): HTMLFormElement {
  const alert = h('p', { class: 'error-text', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'primary' }, submitLabel);
  const f = h(
    'form',
    { class: 'card-form', 'aria-label': title },
    h('h2', {}, title),
    ...fields,
    button,
    alert,
  );
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    alert.textContent = '';
    const data = Object.fromEntries([...new FormData(f).entries()].map(([k, v]) => [k, String(v)]));
    button.disabled = true;
    onSubmit(data, f)
      .catch((e: unknown) => (alert.textContent = errorText(e)))
      .finally(() => (button.disabled = false));
  });
  return f;
}

export function table(headers: string[], rows: HTMLTableRowElement[], empty: string): HTMLElement {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'grid' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          // A column of buttons has no visible title; screen readers still get one.
          ...headers.map((t) => h('th', { scope: 'col' }, t || h('span', { class: 'sr-only' }, 'Actions'))),
        ),
      ),
      h('tbody', {}, ...rows),
    ),
  );
}

export function row(...cells: (Node | string | null)[]): HTMLTableRowElement {
  return h('tr', {}, ...cells.map((c) => h('td', {}, c)));
}

/**
 * A destructive button that asks again in place (no window.confirm: it is blocked in some
 * embedded browsers and hides the action's name).
 */
export function confirmButton(
  label: string,
  confirmLabel: string,
  action: () => Promise<void>,
): HTMLButtonElement {
  const b = h('button', { type: 'button', class: 'danger' }, label);
  let armed = false;
  b.addEventListener('click', () => {
    if (!armed) {
      armed = true;
      b.textContent = confirmLabel;
      setTimeout(() => {
        armed = false;
        b.textContent = label;
      }, 5000);
      return;
    }
    b.disabled = true;
    action().catch((e: unknown) => {
      b.disabled = false;
      b.title = errorText(e);
      b.textContent = label;
      armed = false;
    });
  });
  return b;
}

/** A value shown this once (a key, a token, a snippet), with a Copy button. */
export function secretBox(title: string, value: string, note: string): HTMLElement {
  const code = h('code', { class: 'secret-value' }, value);
  const status = h('span', { class: 'muted', role: 'status' });
  const copy = h('button', { type: 'button' }, 'Copy');
  copy.addEventListener('click', () => {
    void copyText(value, code).then((ok) => (status.textContent = ok ? 'Copied' : 'Selected: press Ctrl+C'));
  });
  return h(
    'div',
    { class: 'secret' },
    h('strong', {}, title),
    h('pre', {}, code),
    h('div', {}, copy, ' ', status),
    h('p', { class: 'muted' }, note),
  );
}

/** Code to copy into the reader's own project (no secret in it), with a Copy button. */
export function codeBlock(label: string, value: string): HTMLElement {
  const code = h('code', {}, value);
  const status = h('span', { class: 'muted', role: 'status' });
  const copy = h('button', { type: 'button', 'aria-label': `Copy the ${label} code` }, 'Copy');
  copy.addEventListener('click', () => {
    void copyText(value, code).then((ok) => (status.textContent = ok ? 'Copied' : 'Selected: press Ctrl+C'));
  });
  return h(
    'figure',
    { class: 'code-block' },
    h('figcaption', {}, h('strong', {}, label), ' ', copy, ' ', status),
    h('pre', {}, code),
  );
}

export function section(title: string, intro: string, ...children: (Node | null)[]): HTMLElement {
  return h(
    'section',
    { class: 'dash-section' },
    h('h1', {}, title),
    h('p', { class: 'muted' }, intro),
    ...children,
  );
}

/** An id unique on the page, for label/aria wiring (`prefix-x7k2p9`). */
export const uid = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

export type Control = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;
export type Field = { el: HTMLElement; control: Control; error: HTMLElement };

/**
 * A labelled control with its own error line (a div: empty, it takes no room) and an optional
 * hint, both named by aria-describedby; typing clears the error.
 */
export function labelled(label: string, control: Control, hint?: string): Field {
  const id = uid(`f-${control.name}`);
  control.id = id;
  const error = h('div', { id: `${id}-error`, class: 'error-text field-error', role: 'alert' });
  const note = hint ? h('div', { id: `${id}-hint`, class: 'muted' }, hint) : null;
  control.setAttribute('aria-describedby', note ? `${id}-error ${id}-hint` : `${id}-error`);
  control.addEventListener('input', () => {
    error.textContent = '';
    control.removeAttribute('aria-invalid');
  });
  const el = h('div', { class: 'field' }, h('label', { for: id }, label), control, note, error);
  return { el, control, error };
}
