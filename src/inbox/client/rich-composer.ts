// The composer's rich media beyond text, image, file and quick buttons: carousel and dropdown
// forms, and a preview of the message as the thread will show it (the thread's own rendering),
// drawn before anything is sent. The server checks every payload again; its refusal is shown
// by the composer's error line.
import { h } from './dom.js';
import { renderMessage } from './messages.js';
import type { SendMessagePayload } from './types.js';

type Payload = Omit<SendMessagePayload, 'conversation_id' | 'sender_type' | 'client_msg_id'>;
type Choice = { label: string; value: string };

/** `label` or `label=value`, one per line (or per comma in a card's buttons). */
export function choicesOf(lines: string, separator: RegExp = /\n/): Choice[] {
  return lines
    .split(separator)
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const at = l.indexOf('=');
      const label = (at < 0 ? l : l.slice(0, at)).trim();
      const value = (at < 0 ? l : l.slice(at + 1)).trim();
      return { label, value: value || label };
    });
}

/**
 * The payload of a carousel or a dropdown from the composer's fields, an error to show, or
 * null for the other types. Cards: one per line, `title | subtitle | image URL | label=value, …`.
 */
export function richPayload(kind: string, form: FormData): Payload | string | null {
  const content = String(form.get('content') ?? '').trim();
  if (kind === 'dropdown') {
    const options = choicesOf(String(form.get('options') ?? ''));
    const placeholder = String(form.get('placeholder') ?? '').trim();
    return options.length
      ? {
          content_type: 'dropdown',
          content,
          rich_media: { options, ...(placeholder ? { placeholder } : {}) },
        }
      : 'Add at least one option';
  }
  if (kind === 'carousel') {
    const cards = String(form.get('cards') ?? '')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => {
        const [title = '', subtitle = '', image = '', buttons = ''] = l.split('|').map((p) => p.trim());
        return {
          title,
          ...(subtitle ? { subtitle } : {}),
          ...(image ? { image_url: image } : {}),
          buttons: choicesOf(buttons, /,/),
        };
      });
    if (!cards.length) return 'Add at least one card';
    if (cards.some((c) => !c.title)) return 'Every card needs a title';
    return { content_type: 'carousel', content, rich_media: { cards } };
  }
  return null;
}

type Deps = {
  composer: HTMLFormElement;
  /** The composer's payload for what it holds (all types), or the reason it cannot be sent. */
  compose: (composer: HTMLFormElement) => Payload | string;
};

/** Adds the carousel and dropdown forms and the live preview to the composer. */
export function attachRichComposer({ composer, compose }: Deps) {
  const kinds = composer.querySelector('.composer-kind');
  kinds?.append(
    h('label', {}, h('input', { type: 'radio', name: 'kind', value: 'carousel' }), ' Carousel'),
    h('label', {}, h('input', { type: 'radio', name: 'kind', value: 'dropdown' }), ' Dropdown'),
  );
  const carousel = h(
    'div',
    { class: 'composer-extra', 'data-for': 'carousel', hidden: true },
    h(
      'label',
      { for: 'carousel-cards' },
      'Cards, one per line: title | subtitle | image URL | label=value, …',
    ),
    h('textarea', { id: 'carousel-cards', name: 'cards', rows: 3 }),
  );
  const dropdown = h(
    'div',
    { class: 'composer-extra', 'data-for': 'dropdown', hidden: true },
    h('label', { for: 'dropdown-placeholder' }, 'Placeholder'),
    h('input', { id: 'dropdown-placeholder', name: 'placeholder', autocomplete: 'off', maxlength: 80 }),
    h('label', { for: 'dropdown-options' }, 'Options, one per line (label or label=value)'),
    h('textarea', { id: 'dropdown-options', name: 'options', rows: 3 }),
  );
  const body = h('div', { class: 'composer-preview-body' });
  const preview = h(
    'section',
    { class: 'composer-preview', 'aria-label': 'Preview', hidden: true },
    h('p', { class: 'composer-preview-title muted' }, 'Preview'),
    body,
  );
  const text = composer.querySelector('textarea[name="content"]');
  (text ?? composer.lastElementChild)?.before(carousel, dropdown, preview);

  /** Draws what would be sent; rich media only (a text reply needs no preview). */
  function update() {
    const kind = composer.querySelector<HTMLInputElement>('input[name="kind"]:checked')?.value ?? 'text';
    if (kind === 'text') {
      preview.hidden = true;
      body.replaceChildren();
      return;
    }
    preview.hidden = false;
    const p = compose(composer);
    if (typeof p === 'string') {
      body.replaceChildren(h('p', { class: 'muted' }, p));
      return;
    }
    const row = renderMessage(
      {
        id: '',
        conversation_id: '',
        session_id: '',
        sender_type: 'agent',
        sender_id: '',
        content_type: p.content_type ?? 'text',
        content: p.content ?? '',
        rich_media: p.rich_media ?? null,
        client_msg_id: null,
        created_at: new Date().toISOString(),
        seq: 0,
      },
      'Preview',
      true,
    );
    row.removeAttribute('data-id');
    body.replaceChildren(h('ol', { class: 'message-list composer-preview-list' }, row));
  }
  composer.addEventListener('input', update);
  composer.addEventListener('change', update);
  // After a send the form is reset: the preview follows (reset fires before the fields clear).
  composer.addEventListener('reset', () => setTimeout(update, 0));
  return { update };
}
