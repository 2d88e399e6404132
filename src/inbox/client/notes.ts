// Internal notes in the inbox: the composer's Reply/Note switch, and how a note looks in the
// thread. A note is sent as `send_message` with `internal: true`; only agents ever receive it.
import { h } from './dom.js';
import type { MessageDto } from './types.js';

const NOTE_PLACEHOLDER = 'Internal note — only agents see it. Enter adds it';

/**
 * Adds the Reply/Note switch above the composer's text (two toggle buttons, reachable with Tab,
 * pressed with Enter or Space). The choice stays until changed, so several notes in a row are
 * easy; the composer and its send button say which one is on.
 */
export function attachNoteToggle(composer: HTMLFormElement, text: HTMLTextAreaElement) {
  const submit = composer.querySelector<HTMLButtonElement>('button[type="submit"]');
  const replyPlaceholder = text.placeholder;
  let note = false;
  const reply = h('button', { type: 'button', class: 'mode-reply', 'aria-pressed': 'true' }, 'Reply');
  const noteBtn = h('button', { type: 'button', class: 'mode-note', 'aria-pressed': 'false' }, 'Note');
  function set(on: boolean) {
    note = on;
    reply.setAttribute('aria-pressed', String(!on));
    noteBtn.setAttribute('aria-pressed', String(on));
    composer.classList.toggle('composer-note', on);
    text.placeholder = on ? NOTE_PLACEHOLDER : replyPlaceholder;
    if (submit) submit.textContent = on ? 'Add note' : 'Send';
  }
  reply.addEventListener('click', () => set(false));
  noteBtn.addEventListener('click', () => set(true));
  const group = h(
    'div',
    { class: 'composer-mode', role: 'group', 'aria-label': 'Write a reply or an internal note' },
    reply,
    noteBtn,
  );
  composer.prepend(group);
  return {
    /** Whether the composer writes an internal note. */
    isNote: () => note,
    set,
  };
}

/** Marks a thread row as an internal note: a label in its head and a distinct background. */
export function markNote(row: HTMLElement, m: Pick<MessageDto, 'internal'>): HTMLElement {
  if (!m.internal) return row;
  row.classList.add('msg-internal');
  row.querySelector('.msg-head')?.prepend(h('span', { class: 'note-label' }, 'Internal note'), ' ');
  return row;
}
