// Desktop notifications and an optional sound for the agent: a new conversation in their queues,
// a new message in a conversation assigned to them, when the tab is hidden or another
// conversation is open. Permission is asked on a click, never on load; the choice to decline and
// the sound toggle are remembered. Clicking a notification brings the tab forward and opens the
// conversation.
import type { Socket } from 'socket.io-client';
import { api, byId } from './dom.js';
import type { ClientToServerEvents, ConversationDto, ServerToClientEvents } from './types.js';
import { visitorLabel } from './conversation-list.js';

type Deps = {
  socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  me: string;
  /** The conversation open in the thread, if any. */
  current: () => string | null;
  open: (id: string) => void;
  /** A message the agent has not seen arrived (the list's count and the title follow). */
  onUnread: (conversationId: string) => void;
};

const DISMISSED_KEY = 'switchboard.notifications.dismissed';
/** A refused `follow_mine` is asked again this long after. */
const FOLLOW_RETRY_MS = 5000;
const SOUND_KEY = 'switchboard.notifications.sound';
const supported = () => typeof window.Notification === 'function';

function stored(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
function store(key: string, value: string) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Storage refused (private mode): the choice lasts this page only.
  }
}

/** A short two-tone chime made on the spot (Web Audio): no file, nothing fetched. */
function createChime() {
  let ctx: AudioContext | null = null;
  return {
    /** Created (or resumed) during a click: browsers only let audio start after a gesture. */
    unlock() {
      ctx ??= new AudioContext();
      void ctx.resume().catch(() => undefined);
    },
    play() {
      if (!ctx) ctx = new AudioContext();
      const t = ctx.currentTime;
      for (const [i, freq] of [880, 1320].entries()) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, t + i * 0.12);
        gain.gain.exponentialRampToValueAtTime(0.2, t + i * 0.12 + 0.01);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.12 + 0.11);
        osc.connect(gain).connect(ctx.destination);
        osc.start(t + i * 0.12);
        osc.stop(t + i * 0.12 + 0.12);
      }
    },
  };
}

export function mountNotify(d: Deps) {
  const enableBtn = byId<HTMLButtonElement>('notify-enable');
  const dismissBtn = byId<HTMLButtonElement>('notify-dismiss');
  const stateEl = byId('notify-state');
  const soundBox = byId<HTMLInputElement>('notify-sound');
  const chime = createChime();
  /** Conversations assigned to this agent: their new messages notify. */
  const mine = new Set<string>();
  const names = new Map<string, string>();

  function renderBar() {
    const permission = supported() ? Notification.permission : 'unsupported';
    const ask = permission === 'default' && stored(DISMISSED_KEY) !== '1';
    enableBtn.hidden = !ask;
    dismissBtn.hidden = !ask;
    stateEl.textContent =
      permission === 'granted'
        ? 'Desktop notifications on'
        : permission === 'denied'
          ? 'Desktop notifications blocked in this browser'
          : '';
    stateEl.hidden = !stateEl.textContent;
  }

  enableBtn.addEventListener('click', () => {
    void Notification.requestPermission()
      .then(renderBar)
      .catch(() => renderBar());
  });
  dismissBtn.addEventListener('click', () => {
    store(DISMISSED_KEY, '1');
    renderBar();
  });
  soundBox.checked = stored(SOUND_KEY) === 'on';
  soundBox.addEventListener('change', () => {
    store(SOUND_KEY, soundBox.checked ? 'on' : 'off');
    if (soundBox.checked) {
      chime.unlock();
      chime.play();
    }
  });

  async function nameOf(id: string): Promise<string> {
    const known = names.get(id);
    if (known) return known;
    try {
      const c = await api<ConversationDto>('GET', `/api/conversations/${id}`);
      const name = visitorLabel(c);
      names.set(id, name);
      return name;
    } catch {
      return 'A visitor';
    }
  }

  /** The agent is looking at it: no notification, no unread. */
  const seeing = (id: string) => !document.hidden && d.current() === id;

  async function notify(id: string, title: (name: string) => string, body: string) {
    if (soundBox.checked) chime.play();
    if (!supported() || Notification.permission !== 'granted') return;
    const n = new Notification(title(await nameOf(id)), { body, tag: `conversation-${id}` });
    n.onclick = () => {
      window.focus();
      d.open(id);
      n.close();
    };
  }

  const preview = (e: { content: string; content_type: string }) =>
    e.content || `[${e.content_type.replace('_', ' ')}]`;

  // A new interaction in the agent's queues (the queue rooms only reach those who may see it).
  d.socket.on('conversation_updated', (e) => {
    if (e.sender_type !== 'end_user' || seeing(e.conversation_id)) return;
    void notify(e.conversation_id, (name) => `New conversation: ${name}`, preview(e));
  });

  // A message in one of theirs (the socket may also be in rooms of conversations only looked at).
  d.socket.on('message_received', (m) => {
    if (m.sender_type !== 'end_user' || !mine.has(m.conversation_id) || seeing(m.conversation_id)) return;
    d.onUnread(m.conversation_id);
    void notify(m.conversation_id, (name) => `New message from ${name}`, preview(m));
  });

  /** In the room of a conversation of theirs, so its messages reach this tab. */
  const follow = (id: string) => d.socket.emit('join_conversation', { conversation_id: id });

  /**
   * Claims, transfers, releases and resolves heard while `follow_mine` is asked: its answer may
   * have been read before them, so they are applied again on top of it.
   */
  let heardMeanwhile: Map<string, boolean> | null = null;
  const mark = (id: string, isMine: boolean) => (isMine ? mine.add(id) : mine.delete(id));
  function held(id: string, isMine: boolean) {
    mark(id, isMine);
    heardMeanwhile?.set(id, isMine);
  }
  d.socket.on('conversation_assigned', (e) => held(e.conversation_id, e.assigned_to === d.me));
  d.socket.on('conversation_released', (e) => held(e.conversation_id, false));
  d.socket.on('conversation_resolved', (e) => held(e.conversation_id, false));

  // A page (re)loaded or reconnected is in no conversation room yet: the server puts it back in
  // the agent's own (`follow_mine`, ids only). Until it answers, or when the agent holds more than
  // it follows, this tab does not follow them all; a refusal (the database away) is asked again.
  let followingAll = false;
  let retry: ReturnType<typeof setTimeout> | undefined;
  function followMine() {
    clearTimeout(retry);
    const heard = new Map<string, boolean>();
    heardMeanwhile = heard;
    d.socket.emit('follow_mine', (ack) => {
      if (heardMeanwhile === heard) heardMeanwhile = null;
      if (!ack?.ok) {
        if (d.socket.connected) retry = setTimeout(followMine, FOLLOW_RETRY_MS);
        return;
      }
      mine.clear();
      for (const id of ack.conversation_ids) mine.add(id);
      for (const [id, isMine] of heard) mark(id, isMine);
      followingAll = ack.complete;
    });
  }
  d.socket.on('connect', followMine);
  d.socket.on('disconnect', () => {
    clearTimeout(retry);
    followingAll = false;
  });

  renderBar();
  return {
    /** Whether this tab is in the room of this conversation of the agent's: its messages come. */
    follows: (id: string) => mine.has(id),
    /** Whether it is in the rooms of all of the agent's conversations. */
    followsAll: () => followingAll,
    /**
     * The thread left `previous` for another conversation: when it is one of the agent's, this
     * tab goes back into its room, so its messages still notify.
     */
    switched(previous: string | null) {
      if (previous && previous !== d.current() && mine.has(previous)) follow(previous);
    },
  };
}
