// Outside business hours or with nobody online, <switchboard-chat> offers to leave an email
// (`POST /api/v1/visitor/contact`); once an agent resolves the conversation (a `rating_request`
// frame) it asks for 1–5 stars and a comment (`POST /api/v1/visitor/rating`). Stars are a radio
// group: arrow keys move between them, as everywhere else.
import { ChatApiError, type ChatClient } from '@switchboard/client-core';
import type { Strings } from './strings.js';

/** What the offline form and the rating need of the element. */
export type OfflineRatingHost = {
  panel: HTMLElement;
  /** The message form: both blocks go just above it. */
  form: HTMLFormElement;
  strings: () => Strings;
  /** The session's client and a live visitor token (the session started if need be). */
  session: () => Promise<{ client: ChatClient; token: string } | undefined>;
};

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const MAX_COMMENT = 1000;
let ids = 0;

/** Runs one of the client core's calls with the session; a refusal's message is the server's. */
async function withSession(
  host: OfflineRatingHost,
  call: (client: ChatClient, token: string) => Promise<unknown>,
): Promise<{ ok: boolean; message?: string }> {
  const s = await host.session();
  if (!s) return { ok: false };
  try {
    await call(s.client, s.token);
    return { ok: true };
  } catch (err) {
    // A network failure says nothing the visitor can use: the element's own wording then.
    return err instanceof ChatApiError && err.status_code > 0 && err.message
      ? { ok: false, message: err.message }
      : { ok: false };
  }
}

/** Builds both blocks (hidden) and returns what the element drives. */
export function setupOfflineRating(host: OfflineRatingHost) {
  const n = ++ids;
  // The email form.
  const contact = document.createElement('form');
  contact.className = 'contact';
  contact.setAttribute('part', 'contact');
  contact.noValidate = true;
  contact.hidden = true;
  const contactLabel = document.createElement('label');
  contactLabel.htmlFor = `sb-contact-${n}`;
  const email = document.createElement('input');
  email.type = 'email';
  email.id = `sb-contact-${n}`;
  email.autocomplete = 'email';
  email.required = true;
  email.maxLength = 254;
  const contactSend = document.createElement('button');
  contactSend.type = 'submit';
  const contactNote = document.createElement('p');
  contactNote.className = 'contact-note';
  contactNote.setAttribute('role', 'status');
  contact.append(contactLabel, email, contactSend, contactNote);

  // The rating.
  const rating = document.createElement('form');
  rating.className = 'rating';
  rating.setAttribute('part', 'rating');
  rating.hidden = true;
  const fieldset = document.createElement('fieldset');
  const legend = document.createElement('legend');
  const stars = document.createElement('div');
  stars.className = 'stars';
  stars.setAttribute('role', 'radiogroup');
  const radios: HTMLInputElement[] = [];
  const starLabels: HTMLSpanElement[] = [];
  for (let score = 1; score <= 5; score++) {
    const label = document.createElement('label');
    label.className = 'star';
    const radio = document.createElement('input');
    radio.type = 'radio';
    radio.name = `sb-rating-${n}`;
    radio.value = String(score);
    radio.className = 'sr-only';
    const shown = document.createElement('span');
    shown.setAttribute('aria-hidden', 'true');
    shown.textContent = '★';
    const spoken = document.createElement('span');
    spoken.className = 'sr-only';
    radio.addEventListener('change', paintStars);
    label.append(radio, shown, spoken);
    radios.push(radio);
    starLabels.push(spoken);
    stars.append(label);
  }
  fieldset.append(legend, stars);
  const commentLabel = document.createElement('label');
  commentLabel.htmlFor = `sb-rating-comment-${n}`;
  const comment = document.createElement('textarea');
  comment.id = `sb-rating-comment-${n}`;
  comment.rows = 2;
  comment.maxLength = MAX_COMMENT;
  const rateSend = document.createElement('button');
  rateSend.type = 'submit';
  const rateNote = document.createElement('p');
  rateNote.className = 'rating-note';
  rateNote.setAttribute('role', 'status');
  rating.append(fieldset, commentLabel, comment, rateSend, rateNote);

  host.form.before(contact, rating);
  let sessionId: string | undefined;
  let offline = false;
  let contactDone: string | undefined;
  let rated = false;

  function paintStars() {
    const chosen = Number(radios.find((r) => r.checked)?.value ?? 0);
    radios.forEach((r, i) => r.parentElement!.classList.toggle('on', i < chosen));
  }

  function applyStrings() {
    const t = host.strings();
    contactLabel.textContent = t.contactPrompt;
    email.placeholder = t.emailPlaceholder;
    contactSend.textContent = t.contactSend;
    legend.textContent = t.rateTitle;
    stars.setAttribute('aria-label', t.rateTitle);
    starLabels.forEach((s, i) => (s.textContent = t.stars.replace('{n}', String(i + 1))));
    commentLabel.textContent = t.rateComment;
    rateSend.textContent = t.rateSend;
    if (contactDone) contactNote.textContent = t.contactThanks.replace('{email}', contactDone);
    if (rated) rateNote.textContent = t.rateThanks;
  }

  contact.addEventListener('submit', (e) => {
    e.preventDefault();
    const t = host.strings();
    const value = email.value.trim();
    if (!EMAIL.test(value) || value.length > 254) {
      email.setAttribute('aria-invalid', 'true');
      contactNote.textContent = t.emailInvalid;
      email.focus();
      return;
    }
    email.removeAttribute('aria-invalid');
    contactSend.disabled = true;
    void withSession(host, (client, token) => client.leaveContact(token, value))
      .then((r) => {
        if (r.ok) {
          contactDone = value;
          email.hidden = true;
          contactSend.hidden = true;
          contactNote.textContent = t.contactThanks.replace('{email}', value);
        } else contactNote.textContent = r.message ?? t.sendFailed;
      })
      .catch(() => (contactNote.textContent = t.sendFailed))
      .finally(() => (contactSend.disabled = false));
  });

  rating.addEventListener('submit', (e) => {
    e.preventDefault();
    const t = host.strings();
    const score = Number(radios.find((r) => r.checked)?.value ?? 0);
    if (!score) {
      rateNote.textContent = t.rateChoose;
      radios[0]!.focus();
      return;
    }
    rateSend.disabled = true;
    const text = comment.value.trim();
    void withSession(host, (client, token) =>
      client.submitRating(token, { score, comment: text, ...(sessionId ? { sessionId } : {}) }),
    )
      .then((r) => {
        if (r.ok) {
          rated = true;
          fieldset.disabled = true;
          comment.disabled = true;
          rateNote.textContent = t.rateThanks;
        } else rateNote.textContent = r.message ?? t.sendFailed;
      })
      .catch(() => (rateNote.textContent = t.sendFailed))
      .finally(() => (rateSend.disabled = rated));
  });

  return {
    applyStrings,
    /** Outside hours or nobody online: the email form shows (until an email was left). */
    setOffline(value: boolean) {
      offline = value;
      contact.hidden = !offline && !contactDone;
    },
    /** An agent resolved the conversation: ask for a rating of that session. */
    ask(session: string) {
      if (sessionId === session && !rating.hidden) return;
      sessionId = session;
      rated = false;
      radios.forEach((r) => (r.checked = false));
      paintStars();
      comment.value = '';
      fieldset.disabled = false;
      comment.disabled = false;
      rateSend.disabled = false;
      rateNote.textContent = '';
      rating.hidden = false;
      applyStrings();
      host.panel.dispatchEvent(
        new CustomEvent('switchboard-rating-request', { bubbles: true, composed: true }),
      );
    },
  };
}
