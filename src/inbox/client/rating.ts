// In the open conversation's header: the email the visitor left to be answered at (typed by
// them, unverified) and their latest rating, "★ 4 — comment". Read with the conversation
// (`GET /api/conversations/:id`), kept live by `contact_left` and `conversation_rated`.
import type { Socket } from 'socket.io-client';
import { api, h } from './dom.js';
import type { ClientToServerEvents, ConversationDto, ServerToClientEvents } from './types.js';

type Rating = { score: number; comment: string | null; updated_at: string };
type Detail = {
  end_user: { contact_email?: string | null };
  rating?: Rating | null;
};

/** Draws the email and rating of the conversation shown, just below `meta`. */
export function attachRatingBadge(d: {
  socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  meta: HTMLElement;
}) {
  const box = h('p', { class: 'thread-extras', id: 'thread-extras' });
  d.meta.after(box);
  let current: string | null = null;
  let email: string | null = null;
  let rating: Rating | null = null;

  function draw() {
    const parts: Node[] = [];
    if (email) {
      parts.push(
        h(
          'span',
          { class: 'contact-email', title: 'Left by the visitor; not verified' },
          '✉ ',
          h('a', { href: `mailto:${email}` }, email),
          ' (unverified)',
        ),
      );
    }
    if (rating) {
      const label = `★ ${rating.score}${rating.comment ? ` — ${rating.comment}` : ''}`;
      parts.push(
        h('span', { class: 'rating-badge', 'aria-label': `Rated ${rating.score} out of 5: ${label}` }, label),
      );
    }
    box.replaceChildren(...parts);
    box.hidden = parts.length === 0;
  }

  d.socket.on('contact_left', (e) => {
    if (e.conversation_id !== current) return;
    email = e.email;
    draw();
  });
  d.socket.on('conversation_rated', (e) => {
    if (e.conversation_id !== current || (rating && e.updated_at < rating.updated_at)) return;
    rating = { score: e.score, comment: e.comment, updated_at: e.updated_at };
    draw();
  });

  return {
    /** The header was drawn for `c`: a new conversation is read once, the same one is redrawn. */
    show(c: ConversationDto) {
      const listed = (c.end_user as Detail['end_user']).contact_email;
      if (c.id === current) {
        if (listed) email = listed;
        return draw();
      }
      current = c.id;
      email = listed ?? null;
      rating = null;
      draw();
      const id = c.id;
      api<Detail>('GET', `/api/conversations/${id}`)
        .then((full) => {
          if (current !== id) return;
          email = full.end_user.contact_email ?? email;
          rating = full.rating ?? rating;
          draw();
        })
        .catch(() => undefined);
    },
  };
}
