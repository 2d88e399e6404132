// Release (back to the queue) and transfer (to a teammate) of the open conversation: the two
// header buttons and the transfer picker. Over the socket when connected, else REST; both call
// the same service, and the queue events bring every inbox up to date.
import type { Socket } from 'socket.io-client';
import { api, ApiError, byId, h } from './dom.js';
import type { ClientToServerEvents, ConversationDto, Member, ServerToClientEvents } from './types.js';

type Deps = {
  socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  me: string;
  /** Admins and owners may hand over any agent's conversation; agents only their own. */
  isAdmin: boolean;
  /** The team as the inbox knows it (presence included), for the picker. */
  team: () => (Member & { online: boolean })[];
  /** The conversation changed hands here: refresh the list. */
  onChanged: () => void;
  onError: (message: string) => void;
};

export function createHandover(d: Deps) {
  const el = {
    release: byId<HTMLButtonElement>('release'),
    open: byId<HTMLButtonElement>('transfer-open'),
    form: byId<HTMLFormElement>('transfer-form'),
    agent: byId<HTMLSelectElement>('transfer-agent'),
    cancel: byId<HTMLButtonElement>('transfer-cancel'),
  };
  let conv: ConversationDto | null = null;

  const holder = () => conv?.active_session?.assigned_agent_id ?? null;
  const mayHandOver = () => !!holder() && (holder() === d.me || d.isAdmin);

  function closePicker(focusBack = false) {
    el.form.hidden = true;
    el.open.setAttribute('aria-expanded', 'false');
    if (focusBack && !el.open.hidden) el.open.focus();
  }

  /** Active teammates other than the holder, online first. */
  function fillPicker() {
    const current = holder();
    const members = d
      .team()
      .filter((m) => m.status === 'active' && m.id !== current)
      .sort((a, b) => Number(b.online) - Number(a.online) || a.display_name.localeCompare(b.display_name));
    el.agent.replaceChildren(
      ...members.map((m) =>
        h(
          'option',
          { value: m.id },
          `${m.id === d.me ? `${m.display_name} (you)` : m.display_name}${m.online ? '' : ' (offline)'}`,
        ),
      ),
    );
    return members.length;
  }

  function openPicker() {
    if (!mayHandOver()) return;
    if (!fillPicker()) return d.onError('Nobody else on the team can take it');
    el.form.hidden = false;
    el.open.setAttribute('aria-expanded', 'true');
    el.agent.focus();
  }

  /** One handover over the socket, or REST without one. */
  function run(
    event: 'release_conversation' | 'transfer_conversation',
    path: string,
    body: { agent_id: string } | undefined,
    failed: string,
  ) {
    if (!conv) return;
    const id = conv.id;
    const done = () => {
      if (conv?.id === id && conv.active_session) {
        conv.active_session.assigned_agent_id = body?.agent_id ?? null;
      }
      closePicker();
      render(conv);
      d.onChanged();
    };
    if (d.socket.connected) {
      const reply = (ack: { ok: boolean; message?: string } | undefined) => {
        if (ack?.ok) done();
        else if (ack) d.onError(ack.message ?? failed);
      };
      if (event === 'transfer_conversation' && body) {
        d.socket.emit(event, { conversation_id: id, agent_id: body.agent_id }, reply);
      } else d.socket.emit('release_conversation', { conversation_id: id }, reply);
      return;
    }
    api('POST', `/api/conversations/${id}/${path}`, body)
      .then(done)
      .catch((e: unknown) => d.onError(e instanceof ApiError ? e.message : failed));
  }

  function release() {
    if (mayHandOver()) run('release_conversation', 'release', undefined, 'Could not release');
  }

  function render(c: ConversationDto | null) {
    if (c?.id !== conv?.id) closePicker();
    conv = c;
    const can = mayHandOver();
    el.release.hidden = !can;
    el.open.hidden = !can;
    if (!can) closePicker();
  }

  el.release.addEventListener('click', release);
  el.open.addEventListener('click', () => (el.form.hidden ? openPicker() : closePicker(true)));
  el.cancel.addEventListener('click', () => closePicker(true));
  el.form.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      ev.preventDefault();
      closePicker(true);
    } else if (ev.key === 'Enter' && ev.target === el.agent) {
      // A select does not submit its form on Enter as an input does; here it should.
      ev.preventDefault();
      el.form.requestSubmit();
    }
  });
  el.form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!el.agent.value || !mayHandOver()) return;
    run('transfer_conversation', 'transfer', { agent_id: el.agent.value }, 'Could not transfer');
  });

  return { render, release, openPicker };
}
