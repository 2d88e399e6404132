import { formatBytes, formatTime, h, safeUrl } from './dom.js';
import { markNote } from './notes.js';
import type { MessageDto } from './types.js';

type Button = { label?: unknown; value?: unknown };
const buttonsOf = (v: unknown): Button[] => (Array.isArray(v) ? (v as Button[]) : []);
const text = (v: unknown) => (typeof v === 'string' ? v : '');

/** The body of one message: text, or its rich media rendered as inert elements. */
function body(m: MessageDto): HTMLElement {
  const rm = m.rich_media ?? {};
  const caption = m.content ? h('p', { class: 'msg-text' }, m.content) : null;
  switch (m.content_type) {
    case 'image': {
      const url = safeUrl(rm.url);
      return h(
        'div',
        { class: 'msg-media' },
        url
          ? h(
              'a',
              { href: url, target: '_blank', rel: 'noopener noreferrer' },
              h('img', { src: url, alt: text(rm.alt) || m.content || 'image', loading: 'lazy' }),
            )
          : null,
        caption,
      );
    }
    case 'file': {
      const url = safeUrl(rm.url);
      const name = text(rm.filename) || m.content || 'file';
      return h(
        'div',
        { class: 'msg-file' },
        url
          ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', download: name }, name)
          : name,
        rm.size != null ? h('span', { class: 'muted' }, ` ${formatBytes(rm.size)}`) : null,
        m.content && m.content !== name ? caption : null,
      );
    }
    case 'quick_button':
    case 'dropdown': {
      const items = buttonsOf(m.content_type === 'dropdown' ? rm.options : rm.buttons);
      return h(
        'div',
        { class: 'msg-choices' },
        caption,
        h('ul', { class: 'choices' }, ...items.map((b) => h('li', { title: text(b.value) }, text(b.label)))),
      );
    }
    case 'carousel': {
      const cards = Array.isArray(rm.cards) ? (rm.cards as Record<string, unknown>[]) : [];
      return h(
        'div',
        {},
        caption,
        h(
          'div',
          // Scrolls sideways when narrow: focusable, so the keyboard can scroll it too.
          {
            class: 'msg-carousel',
            tabindex: 0,
            role: 'group',
            'aria-label': `Carousel, ${cards.length} cards`,
          },
          ...cards.map((c) => {
            const img = safeUrl(c.image_url);
            return h(
              'div',
              { class: 'card' },
              img ? h('img', { src: img, alt: text(c.title), loading: 'lazy' }) : null,
              h('strong', {}, text(c.title)),
              c.subtitle ? h('p', {}, text(c.subtitle)) : null,
              h('ul', { class: 'choices' }, ...buttonsOf(c.buttons).map((b) => h('li', {}, text(b.label)))),
            );
          }),
        ),
      );
    }
    default: {
      // The answer to a button or an option: its label, and the value it carries in small text.
      const value = text(rm.value);
      if (!value) return h('p', { class: 'msg-text' }, m.content);
      return h(
        'p',
        { class: 'msg-text msg-reply', title: `Value: ${value}` },
        m.content,
        ' ',
        h('small', { class: 'msg-reply-value muted' }, value),
      );
    }
  }
}

/** One thread row. `who` names the sender as the agent should read it. */
export function renderMessage(m: MessageDto, who: string, mine: boolean): HTMLLIElement {
  const row = h(
    'li',
    {
      class: `msg msg-${m.sender_type}${mine ? ' msg-mine' : ''}`,
      'data-id': m.id,
      'data-sender': m.sender_type,
    },
    h(
      'div',
      { class: 'msg-head' },
      h('span', { class: 'who' }, who),
      ' ',
      h('time', { datetime: m.created_at }, formatTime(m.created_at)),
    ),
    body(m),
  );
  markNote(row, m);
  return row;
}
