// The visitor panel beside the thread (below it on narrow screens): who the visitor is, where they
// are, with what browser, since when, their earlier conversations and tags. Agents correct the name
// and email here; other inboxes hear it (`visitor_updated`).
import { api, ApiError, byId, h, safeUrl } from './dom.js';
import { friendlyName } from './conversation-list.js';
import type { ConversationDto, VisitorUpdated } from './types.js';

type Part = { name: string; version: string | null } | null;

/** `GET /api/conversations/:id/visitor`. */
export type VisitorProfile = {
  conversation_id: string;
  end_user: {
    id: string;
    display_name: string | null;
    email: string | null;
    external_id: string;
    verified: boolean;
    page_url: string | null;
    referrer: string | null;
    locale: string | null;
    user_agent: string | null;
    browser: Part;
    os: Part;
    device: string | null;
    first_seen_at: string;
    last_seen_at: string;
  };
  tags: string[];
  past_sessions: {
    id: string;
    status: string;
    tags: string[];
    created_at: string;
    resolved_at: string | null;
  }[];
  other_conversations: { id: string; channel_id: string; status: string | null; updated_at: string }[];
};

const KEY = 'switchboard.visitorPanel';
const when = (iso: string) => h('time', { datetime: iso }, new Date(iso).toLocaleString());
const part = (p: Part) => (p ? `${p.name}${p.version ? ` ${p.version.split('.')[0]}` : ''}` : null);

export function mountVisitorPanel(d: {
  open: (conversationId: string) => void;
  onError: (m: string) => void;
}) {
  const panel = byId('visitor-panel');
  const toggle = byId<HTMLButtonElement>('visitor-toggle');
  const inbox = byId('inbox');
  let profile: VisitorProfile | null = null;
  let editing = false;
  let generation = 0;

  // On a phone the thread needs the screen: the panel waits for the Visitor button there.
  const phone = matchMedia('(max-width: 600px)');
  const key = () => (phone.matches ? `${KEY}.phone` : KEY);
  function setOpen(open: boolean) {
    toggle.setAttribute('aria-expanded', String(open));
    panel.hidden = !open || !profile;
    inbox.classList.toggle('with-visitor', !panel.hidden);
    localStorage.setItem(key(), open ? 'open' : 'closed');
  }
  const isOpen = () =>
    phone.matches ? localStorage.getItem(key()) === 'open' : localStorage.getItem(key()) !== 'closed';
  toggle.addEventListener('click', () => setOpen(!isOpen()));

  function field(label: string, value: Node | string | null, extra?: Node) {
    return [
      h('dt', {}, label),
      h('dd', {}, value ?? h('span', { class: 'muted' }, 'unknown'), extra ?? null),
    ];
  }

  function link(url: string | null) {
    const safe = safeUrl(url);
    return safe ? h('a', { href: safe, target: '_blank', rel: 'noopener noreferrer' }, safe) : null;
  }

  function editForm(p: VisitorProfile) {
    const error = h('p', { class: 'error-text', role: 'alert' });
    const name = h('input', {
      id: 'visitor-name',
      name: 'display_name',
      value: p.end_user.display_name ?? '',
      maxlength: 120,
      autocomplete: 'off',
    });
    const email = h('input', {
      id: 'visitor-email',
      name: 'email',
      type: 'email',
      value: p.end_user.email ?? '',
      maxlength: 254,
      autocomplete: 'off',
    });
    const form = h(
      'form',
      // The server's answer names what is wrong (the browser's own bubble would say nothing here).
      { class: 'visitor-edit', 'aria-label': 'Edit the visitor', novalidate: true },
      h('label', { for: 'visitor-name' }, 'Name'),
      name,
      h('label', { for: 'visitor-email' }, 'Email'),
      email,
      error,
      h(
        'div',
        { class: 'visitor-edit-actions' },
        h('button', { type: 'submit', class: 'primary' }, 'Save'),
        h('button', { type: 'button', onclick: () => ((editing = false), render()) }, 'Cancel'),
      ),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const body = {
        display_name: name.value.trim() || null,
        email: email.value.trim() || null,
      };
      const id = p.conversation_id;
      api<{ display_name: string | null; email: string | null }>(
        'PATCH',
        `/api/conversations/${id}/visitor`,
        body,
      )
        .then((r) => {
          if (profile?.conversation_id !== id) return;
          profile.end_user.display_name = r.display_name;
          profile.end_user.email = r.email;
          editing = false;
          render();
        })
        .catch((e: unknown) => (error.textContent = e instanceof ApiError ? e.message : 'Could not save'));
    });
    return form;
  }

  function render() {
    if (!profile) return;
    const p = profile;
    const u = p.end_user;
    const verified = h(
      'span',
      { class: `verified ${u.verified ? 'yes' : 'no'}` },
      u.verified ? 'verified' : 'not verified',
    );
    panel.replaceChildren(
      h(
        'header',
        { class: 'visitor-head' },
        h('h2', {}, u.display_name || friendlyName(u.id)),
        editing
          ? null
          : h(
              'button',
              { type: 'button', id: 'visitor-edit', onclick: () => ((editing = true), render()) },
              'Edit',
            ),
      ),
      editing ? editForm(p) : '',
      h(
        'dl',
        { class: 'visitor-facts' },
        ...field('Name', u.display_name),
        ...field('Email', u.email),
        ...field('ID', h('code', {}, u.external_id), verified),
        ...field('Page', link(u.page_url)),
        ...field('Referrer', link(u.referrer)),
        ...field('Locale', u.locale),
        ...field('Browser', part(u.browser)),
        ...field('OS', part(u.os)),
        ...field('First seen', when(u.first_seen_at)),
        ...field('Last seen', when(u.last_seen_at)),
        ...field('Tags', p.tags.length ? p.tags.join(', ') : null),
      ),
      h('h3', {}, 'Previous conversations'),
      p.other_conversations.length || p.past_sessions.length
        ? h(
            'ul',
            { class: 'visitor-history' },
            ...p.other_conversations.map((c) =>
              h(
                'li',
                {},
                h(
                  'a',
                  {
                    href: `#conversation=${c.id}`,
                    onclick: (ev: Event) => {
                      ev.preventDefault();
                      d.open(c.id);
                    },
                  },
                  `Another channel · ${c.status ?? 'no session'}`,
                ),
                ' ',
                when(c.updated_at),
              ),
            ),
            ...p.past_sessions.map((s) =>
              h(
                'li',
                {},
                `Here · ${s.status}${s.tags.length ? ` · ${s.tags.join(', ')}` : ''} · `,
                when(s.resolved_at ?? s.created_at),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'None'),
    );
    setOpen(isOpen());
  }

  return {
    /** The thread opened this conversation: its visitor's profile follows. */
    show(c: ConversationDto) {
      const mine = ++generation;
      api<VisitorProfile>('GET', `/api/conversations/${c.id}/visitor`)
        .then((p) => {
          if (mine !== generation) return;
          profile = p;
          editing = false;
          render();
        })
        .catch((e: unknown) => d.onError(e instanceof ApiError ? e.message : 'Could not load the visitor'));
    },
    /** Another agent (or this one, in another tab) changed the visitor. */
    updated(e: VisitorUpdated) {
      if (!profile || profile.end_user.id !== e.end_user_id || editing) return;
      profile.end_user.display_name = e.display_name;
      profile.end_user.email = e.email;
      render();
    },
  };
}
