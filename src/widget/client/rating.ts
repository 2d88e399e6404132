// The embed widget's greeting, offline notice with an email form, and rating. On load it asks
// `GET /api/widget/availability` (business hours and presence): the tenant's greeting leads an
// empty conversation; outside hours or with nobody online the offline message shows with "Leave
// your email and we'll answer there" (`POST /api/widget/contact`). When an agent resolves the
// conversation (`conversation_resolved`) it asks for 1–5 stars and a comment
// (`POST /api/widget/rating`). The visitor is proven as for the history (external_id, user_hash).
import type { Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../realtime/realtime.contract.js';
import { el } from './render.js';

type Availability = {
  is_open: boolean;
  available: boolean;
  greeting: string | null;
  offline_message: string | null;
};
type Proof = { conversation_id: string; external_id: string; user_hash?: string };

const OFFLINE = 'No one is available right now. Leave a message and we will answer as soon as we can.';
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

async function post(path: string, body: unknown): Promise<{ ok: boolean; message?: string }> {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).catch(() => null);
  if (!res) return { ok: false };
  if (res.ok) return { ok: true };
  const answer = (await res.json().catch(() => ({}))) as { message?: string };
  return { ok: false, ...(answer.message ? { message: answer.message } : {}) };
}

function emailForm(proof: Proof): HTMLFormElement {
  const form = el('form', 'cw-contact');
  form.noValidate = true;
  const label = el('label', undefined, 'Leave your email and we’ll answer there');
  label.htmlFor = 'cw-contact-email';
  const input = el('input');
  input.type = 'email';
  input.id = 'cw-contact-email';
  input.autocomplete = 'email';
  input.maxLength = 254;
  input.placeholder = 'name@example.com';
  const send = el('button', 'cw-contact-send', 'Send email');
  send.type = 'submit';
  const note = el('p', 'cw-contact-note');
  note.setAttribute('role', 'status');
  form.append(label, input, send, note);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const email = input.value.trim();
    if (!EMAIL.test(email)) {
      input.setAttribute('aria-invalid', 'true');
      note.textContent = 'Enter a valid email address, such as name@example.com.';
      return input.focus();
    }
    input.removeAttribute('aria-invalid');
    send.disabled = true;
    void post('/api/widget/contact', { ...proof, email })
      .then((r) => {
        if (!r.ok) return void (note.textContent = r.message ?? 'This could not be sent. Try again.');
        input.hidden = true;
        send.hidden = true;
        note.textContent = `Thanks! We’ll answer at ${email}.`;
      })
      .finally(() => (send.disabled = false));
  });
  return form;
}

function ratingForm(proof: Proof, sessionId: string): HTMLFormElement {
  const form = el('form', 'cw-rating');
  const fieldset = el('fieldset');
  const legend = el('legend', undefined, 'How was this conversation?');
  const stars = el('div', 'cw-stars');
  stars.setAttribute('role', 'radiogroup');
  stars.setAttribute('aria-label', 'How was this conversation?');
  const radios: HTMLInputElement[] = [];
  const paint = () => {
    const chosen = Number(radios.find((r) => r.checked)?.value ?? 0);
    radios.forEach((r, i) => r.parentElement!.classList.toggle('cw-star--on', i < chosen));
  };
  for (let score = 1; score <= 5; score++) {
    const label = el('label', 'cw-star');
    const radio = el('input', 'cw-sr');
    radio.type = 'radio';
    radio.name = `cw-rating-${sessionId}`;
    radio.value = String(score);
    radio.addEventListener('change', paint);
    const shown = el('span', undefined, '★');
    shown.setAttribute('aria-hidden', 'true');
    label.append(radio, shown, el('span', 'cw-sr', `${score} out of 5 stars`));
    radios.push(radio);
    stars.append(label);
  }
  fieldset.append(legend, stars);
  const commentLabel = el('label', undefined, 'A comment (optional)');
  commentLabel.htmlFor = 'cw-rating-comment';
  const comment = el('textarea');
  comment.id = 'cw-rating-comment';
  comment.rows = 2;
  comment.maxLength = 1000;
  const send = el('button', 'cw-rating-send', 'Send rating');
  send.type = 'submit';
  const note = el('p', 'cw-rating-note');
  note.setAttribute('role', 'status');
  form.append(fieldset, commentLabel, comment, send, note);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const score = Number(radios.find((r) => r.checked)?.value ?? 0);
    if (!score) {
      note.textContent = 'Choose from 1 to 5 stars.';
      return radios[0]!.focus();
    }
    send.disabled = true;
    const text = comment.value.trim();
    void post('/api/widget/rating', {
      ...proof,
      score,
      session_id: sessionId,
      ...(text ? { comment: text } : {}),
    }).then((r) => {
      if (!r.ok) {
        send.disabled = false;
        return void (note.textContent = r.message ?? 'This could not be sent. Try again.');
      }
      fieldset.disabled = true;
      comment.disabled = true;
      note.textContent = 'Thanks for your rating!';
    });
  });
  return form;
}

/** Greeting, offline notice and email form, and the rating after a resolve. */
export function setupOfflineRating(d: {
  form: HTMLFormElement;
  log: HTMLElement;
  proof: Proof;
  socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  /** The conversation already has messages: no greeting then. */
  hasHistory: boolean;
}): void {
  const q = new URLSearchParams(d.proof as Record<string, string>);
  void fetch(`/api/widget/availability?${q}`)
    .then((r) => (r.ok ? (r.json() as Promise<Availability>) : null))
    .catch(() => null)
    .then((a) => {
      if (!a) return;
      if (a.greeting && !d.hasHistory && !d.log.querySelector('.cw-msg')) {
        const row = el('div', 'cw-msg cw-msg--them cw-greeting');
        row.append(el('span', 'cw-sr', 'Support: '), el('p', 'cw-text', a.greeting));
        d.log.prepend(row);
      }
      if (!a.available) {
        const notice = el('p', 'cw-offline', a.offline_message ?? OFFLINE);
        notice.setAttribute('role', 'note');
        d.form.before(notice, emailForm(d.proof));
      }
    });

  let current: HTMLFormElement | undefined;
  d.socket.on('conversation_resolved', (e) => {
    if (e.conversation_id !== d.proof.conversation_id) return;
    current?.remove();
    current = ratingForm(d.proof, e.session_id);
    d.form.before(current);
  });
}
