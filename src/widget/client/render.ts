// Message rendering for the widget. Every piece of message data goes through textContent or a
// checked attribute: no message ever becomes HTML, and only http(s) URLs are ever used.

import type { MessageReceived } from '../../realtime/realtime.contract.js';

/**
 * A message as the widget shows it: `message_received` (the contract's type), the widget history
 * (which leaves out `session_id`), or the visitor's own text still being sent (not stored yet).
 */
export type WidgetMessage = Pick<
  MessageReceived,
  'id' | 'sender_type' | 'content_type' | 'content' | 'rich_media' | 'created_at'
> &
  Partial<Pick<MessageReceived, 'conversation_id' | 'sender_id' | 'client_msg_id' | 'seq'>>;

type Button = { label: string; value: string };
type Rich = {
  url?: unknown;
  alt?: unknown;
  filename?: unknown;
  size?: unknown;
  buttons?: unknown;
  cards?: unknown;
  placeholder?: unknown;
  options?: unknown;
  value?: unknown;
};
type Card = { image_url?: unknown; title?: unknown; subtitle?: unknown; buttons?: unknown };

/** `value`: the chosen option's value, sent alongside its label (`rich_media.value`). */
export type Actions = { send: (text: string, value?: string) => void };

/** The URL if it is absolute http(s), else null. */
export function safeUrl(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

export function formatSize(bytes: unknown): string {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let n = bytes / 1024;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function buttonsOf(v: unknown): Button[] {
  if (!Array.isArray(v)) return [];
  return v.filter(
    (b): b is Button =>
      typeof b === 'object' && b !== null && typeof b.label === 'string' && typeof b.value === 'string',
  );
}

function image(url: string, alt: string): HTMLImageElement {
  const img = el('img', 'cw-img');
  img.src = url;
  img.alt = alt;
  img.loading = 'lazy';
  img.referrerPolicy = 'no-referrer';
  return img;
}

/** Buttons that send their label as the visitor's message, with the value; used once, then disabled. */
function buttonGroup(buttons: Button[], label: string, actions: Actions): HTMLElement {
  const group = el('div', 'cw-buttons');
  group.setAttribute('role', 'group');
  group.setAttribute('aria-label', label);
  for (const b of buttons) {
    const btn = el('button', 'cw-btn', b.label);
    btn.type = 'button';
    btn.addEventListener('click', () => {
      for (const other of group.querySelectorAll('button')) other.disabled = true;
      btn.classList.add('cw-btn--chosen');
      actions.send(b.label, b.value);
    });
    group.append(btn);
  }
  return group;
}

function file(rich: Rich, caption: string): HTMLElement | null {
  const url = safeUrl(rich.url);
  const name = str(rich.filename) || caption || 'File';
  if (!url) return el('p', 'cw-text', name);
  const a = el('a', 'cw-file');
  a.href = url;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  a.download = name;
  a.append(el('span', 'cw-file-name', name));
  const size = formatSize(rich.size);
  if (size) a.append(el('span', 'cw-file-size', size));
  a.setAttribute('aria-label', `Download ${name}${size ? `, ${size}` : ''}`);
  return a;
}

function carousel(rich: Rich, actions: Actions): HTMLElement {
  const list = el('ul', 'cw-carousel');
  list.setAttribute('aria-label', 'Cards');
  for (const c of Array.isArray(rich.cards) ? (rich.cards as Card[]) : []) {
    if (typeof c !== 'object' || c === null) continue;
    const card = el('li', 'cw-card');
    const url = safeUrl(c.image_url);
    if (url) card.append(image(url, ''));
    const title = str(c.title);
    card.append(el('p', 'cw-card-title', title));
    if (str(c.subtitle)) card.append(el('p', 'cw-card-subtitle', str(c.subtitle)));
    const buttons = buttonsOf(c.buttons);
    if (buttons.length) card.append(buttonGroup(buttons, title || 'Options', actions));
    list.append(card);
  }
  return list;
}

let dropdownSeq = 0;
function dropdown(rich: Rich, caption: string, actions: Actions): HTMLElement {
  const form = el('form', 'cw-dropdown');
  const id = `cw-dd-${++dropdownSeq}`;
  const label = el('label', 'cw-sr', caption || 'Choose an option');
  label.htmlFor = id;
  const select = el('select');
  select.id = id;
  const placeholder = el('option', undefined, str(rich.placeholder) || 'Choose…');
  placeholder.value = '';
  placeholder.disabled = true;
  placeholder.selected = true;
  select.append(placeholder);
  for (const o of buttonsOf(rich.options)) {
    const opt = el('option', undefined, o.label);
    opt.value = o.value;
    select.append(opt);
  }
  const send = el('button', 'cw-btn', 'Send');
  send.type = 'submit';
  form.append(label, select, send);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!select.value) return select.focus();
    select.disabled = send.disabled = true;
    const chosen = select.selectedOptions[0];
    actions.send(chosen?.textContent ?? select.value, select.value);
  });
  return form;
}

const SENDERS: Record<string, string> = { end_user: 'You', agent: 'Agent', bot: 'Bot' };

/** One message as DOM: sender (for screen readers; the bot's shown too), text, rich media, time. */
export function renderMessage(m: WidgetMessage, actions: Actions): HTMLElement {
  const mine = m.sender_type === 'end_user';
  const row = el('div', `cw-msg ${mine ? 'cw-msg--me' : 'cw-msg--them'}`);
  if (m.id) row.dataset.id = m.id;
  if (typeof m.seq === 'number') row.dataset.seq = String(m.seq);
  row.append(el('span', 'cw-sr', `${SENDERS[m.sender_type] ?? 'Support'}: `));
  // The bot is named on screen too, so nobody mistakes its answers for a person's.
  if (m.sender_type === 'bot') {
    const name = el('span', 'cw-who', SENDERS.bot);
    name.setAttribute('aria-hidden', 'true');
    row.classList.add('cw-msg--bot');
    row.append(name);
  }
  const rich = (typeof m.rich_media === 'object' && m.rich_media !== null ? m.rich_media : {}) as Rich;
  const text = typeof m.content === 'string' ? m.content : '';
  // An attachment's caption that only repeats its name is left out.
  const showText =
    text &&
    !(m.content_type === 'file' && text === str(rich.filename)) &&
    !(m.content_type === 'image' && text === str(rich.alt));
  if (showText) row.append(el('p', 'cw-text', text));
  // An answer to a button or option: its value rides along, shown to nobody.
  if (m.content_type === 'text' && typeof rich.value === 'string') row.dataset.value = rich.value;

  switch (m.content_type) {
    case 'image': {
      const url = safeUrl(rich.url);
      if (url) row.append(image(url, str(rich.alt) || text || 'Image'));
      break;
    }
    case 'file': {
      const f = file(rich, text);
      if (f) row.append(f);
      break;
    }
    case 'quick_button': {
      const buttons = buttonsOf(rich.buttons);
      if (buttons.length) row.append(buttonGroup(buttons, text || 'Options', actions));
      break;
    }
    case 'carousel':
      row.append(carousel(rich, actions));
      break;
    case 'dropdown':
      row.append(dropdown(rich, text, actions));
      break;
  }

  const at = new Date(m.created_at);
  if (!Number.isNaN(at.getTime())) {
    const time = el('time', 'cw-time', at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
    time.dateTime = at.toISOString();
    row.append(time);
  }
  return row;
}
