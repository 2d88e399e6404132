import {
  ChatClient,
  WSClient,
  type ConnectionState,
  type MsgFrame,
  type WidgetConfig,
} from '@switchboard/client-core';
import { css } from './styles.js';
import { captionRepeats, mediaOf, mediaOfMsg, setupAttachments, spokenMedia, type Media } from './attach.js';
import { stringsFor, tickWords, type Strings } from './strings.js';
import { createTicks, type Ticks } from './ticks.js';
import { setupOfflineRating } from './rating.js';

export type ChatMode = 'launcher' | 'panel' | 'thread';

/** Below this width the open launcher panel takes the whole screen (styles.ts agrees). */
const PHONE = '(max-width: 600px)';

type Choice = { label: string; value: string };

function choiceList(v: unknown): Choice[] {
  if (!Array.isArray(v)) return [];
  return v.filter(
    (b): b is Choice =>
      typeof b === 'object' &&
      b !== null &&
      typeof (b as Choice).label === 'string' &&
      typeof (b as Choice).value === 'string',
  );
}

/** The buttons (quick buttons, carousel cards' buttons) and dropdown options of a message. */
function choicesOf(m: MsgFrame): { buttons: Choice[]; options: Choice[] } {
  const r = (m.rich_media ?? {}) as Record<string, unknown>;
  if (m.content_type === 'quick_button') return { buttons: choiceList(r.buttons), options: [] };
  if (m.content_type === 'dropdown') return { buttons: [], options: choiceList(r.options) };
  if (m.content_type === 'carousel' && Array.isArray(r.cards))
    return {
      buttons: r.cards.flatMap((c) => choiceList((c as Record<string, unknown> | null)?.buttons)),
      options: [],
    };
  return { buttons: [], options: [] };
}

/** What survives a reload of the page, per tab (sessionStorage). */
type Stored = { token: string };

const TEMPLATE = `
<button type="button" class="launcher" part="launcher" aria-expanded="false" aria-controls="panel" hidden></button>
<section class="panel" part="panel" id="panel" role="region">
  <header part="header">
    <img class="avatar" part="avatar" alt="" hidden>
    <h2 class="title" id="title"></h2>
    <span class="status" part="status"></span>
    <button type="button" class="close" part="close">×</button>
  </header>
  <p class="offline" part="offline" role="note" hidden></p>
  <ol class="messages" part="messages" tabindex="0"></ol>
  <div class="typing" part="typing" hidden></div>
  <div class="conn" part="connection" role="status"></div>
  <div class="live sr-only" aria-live="polite" aria-relevant="additions text"></div>
  <form part="form">
    <label class="sr-only" for="input"></label>
    <textarea id="input" rows="1" part="input"></textarea>
    <button type="submit" class="send" part="send"></button>
  </form>
</section>`;

/** Only http(s) URLs become the header's image. */
function httpUrl(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}
const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v : undefined);

/**
 * `<switchboard-chat tenant-id widget-key base-url locale mode>`: the visitor's chat as a
 * floating launcher, a docked panel or a chromeless thread, on the client core. With `preview`
 * it never touches the network and draws the config given to `preview()` (the console's preview).
 */
export class SwitchboardChat extends HTMLElement {
  static observedAttributes = ['mode', 'locale', 'tenant-id', 'widget-key', 'base-url', 'preview'];

  private readonly root: ShadowRoot;
  private readonly el: {
    launcher: HTMLButtonElement;
    panel: HTMLElement;
    header: HTMLElement;
    avatar: HTMLImageElement;
    title: HTMLElement;
    offline: HTMLElement;
    status: HTMLElement;
    close: HTMLButtonElement;
    list: HTMLOListElement;
    typing: HTMLElement;
    conn: HTMLElement;
    live: HTMLElement;
    form: HTMLFormElement;
    label: HTMLLabelElement;
    input: HTMLTextAreaElement;
    send: HTMLButtonElement;
  };
  private client: ChatClient | undefined;
  private ws: WSClient | undefined;
  private config: WidgetConfig | undefined;
  private t: Strings = stringsFor('en');
  private isOpen = false;
  private ticks!: Ticks;
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private typingSent = false;
  /** Rendered messages by id, and the visitor's own by client_msg_id until acked. */
  private readonly shown = new Map<string, HTMLLIElement>();
  /** The branding's greeting: a local first bubble, never stored nor sent. */
  private readonly greeting = document.createElement('li');
  /** Whether the conversation has messages from before this page (then no greeting). */
  private hasHistory = false;

  constructor() {
    super();
    this.root = this.attachShadow({ mode: 'open' });
    // A constructed stylesheet is not inline style: it passes a strict style-src CSP.
    if (
      'adoptedStyleSheets' in this.root &&
      typeof CSSStyleSheet === 'function' &&
      'replaceSync' in CSSStyleSheet.prototype
    ) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      this.root.adoptedStyleSheets = [sheet];
    } else {
      const style = document.createElement('style');
      style.textContent = css;
      this.root.append(style);
    }
    const tpl = document.createElement('template');
    tpl.innerHTML = TEMPLATE;
    this.root.append(tpl.content.cloneNode(true));
    const q = <T extends Element>(s: string) => this.root.querySelector(s) as T;
    this.el = {
      launcher: q('.launcher'),
      panel: q('.panel'),
      header: q('header'),
      avatar: q('.avatar'),
      title: q('.title'),
      offline: q('.offline'),
      status: q('.status'),
      close: q('.close'),
      list: q('.messages'),
      typing: q('.typing'),
      conn: q('.conn'),
      live: q('.live'),
      form: q('form'),
      label: q('label'),
      input: q('textarea'),
      send: q('.send'),
    };
    this.el.launcher.addEventListener('click', () => (this.isOpen ? this.close() : this.open()));
    this.ticks = createTicks({
      list: this.el.list,
      mine: (r) => r.classList.contains('visitor'),
      theirs: (r) => r.classList.contains('agent') || r.classList.contains('bot'),
      className: 'ticks',
      srClass: 'sr-only',
      sendDelivered: (seq) => void this.ws?.sendDelivered(seq),
      sendRead: (ids) => void this.ws?.sendRead(ids),
      canRead: () => this.opened && document.visibilityState === 'visible',
      words: () => (this.t === stringsFor('fr') ? tickWords.fr : tickWords.en),
    });
    this.el.close.addEventListener('click', () => this.close());
    this.el.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.mode === 'launcher') {
        e.stopPropagation();
        this.close();
      }
    });
    this.el.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.sendFromInput();
    });
    this.el.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.sendFromInput();
      }
    });
    this.el.input.addEventListener('input', () => this.visitorTyping());
    this.attachments = setupAttachments({
      host: this,
      panel: this.el.panel,
      form: this.el.form,
      input: this.el.input,
      strings: () => this.t,
      session: async () => {
        await this.ensureSession();
        return this.ws && this.client ? { ws: this.ws, client: this.client } : undefined;
      },
      showSent: (key, content, media) => this.render({ key, role: 'visitor', content, pending: true, media }),
    });
    this.offlineRating = setupOfflineRating({
      panel: this.el.panel,
      form: this.el.form,
      strings: () => this.t,
      session: async () => {
        await this.ensureSession();
        // A session still starting has no token until its first welcome.
        const token = this.ws?.visitorToken ?? (this.ws ? await this.welcomed() : undefined);
        return this.client && token ? { client: this.client, token } : undefined;
      },
    });
  }
  private readonly attachments: ReturnType<typeof setupAttachments>;
  private readonly offlineRating: ReturnType<typeof setupOfflineRating>;

  /** launcher (default), panel or thread. */
  get mode(): ChatMode {
    const m = this.getAttribute('mode');
    return m === 'panel' || m === 'thread' ? m : 'launcher';
  }
  /** The connection's state: connecting, open, reconnecting or closed. */
  get state(): ConnectionState {
    return this.ws?.state ?? 'closed';
  }
  /** Whether the conversation is visible (always, except a closed launcher). */
  get opened(): boolean {
    return this.mode !== 'launcher' || this.isOpen;
  }
  /** With the `preview` attribute: no network, no session, only `preview(config)`'s look. */
  get isPreview(): boolean {
    return this.hasAttribute('preview');
  }

  /**
   * Draws this widget config (title, colour, launcher text, greeting, avatar, online or offline)
   * without a session; with the `preview` attribute nothing is fetched nor sent.
   */
  preview(config: WidgetConfig) {
    this.config = config;
    this.applyBranding();
  }

  connectedCallback() {
    if (!this.hasAttribute('mode')) this.setAttribute('mode', 'launcher');
    this.applyMode();
    this.applyStrings();
    this.setState('closed');
    this.maybeStart();
  }

  disconnectedCallback() {
    this.lockPage(); // released: the page scrolls again
    this.ws?.close();
    this.ws = undefined;
    this.client = undefined;
  }

  attributeChangedCallback(name: string) {
    if (name === 'mode' || name === 'preview') this.applyMode();
    if (name === 'locale') this.applyStrings();
    else this.maybeStart(); // created by script: the attributes may come after the element
  }

  /** Opens the launcher's panel and moves focus to the message field. */
  open() {
    if (this.mode !== 'launcher') return void this.el.input.focus();
    this.isOpen = true;
    this.el.panel.hidden = false;
    this.el.launcher.setAttribute('aria-expanded', 'true');
    this.el.launcher.setAttribute('aria-label', this.t.close);
    this.lockPage();
    this.el.input.focus({ preventScroll: true });
    void this.ensureSession();
    this.ticks.markVisible();
    this.dispatchEvent(new CustomEvent('switchboard-open'));
  }

  /** Closes the launcher's panel and gives focus back to the launcher. */
  close() {
    if (this.mode !== 'launcher' || !this.isOpen) return;
    this.isOpen = false;
    this.el.panel.hidden = true;
    this.el.launcher.setAttribute('aria-expanded', 'false');
    this.el.launcher.setAttribute('aria-label', this.t.open);
    this.applyMode();
    this.lockPage();
    this.el.launcher.focus();
    this.dispatchEvent(new CustomEvent('switchboard-close'));
  }

  /**
   * Sends a message as the visitor (queued while offline). `value`: the chosen button's or
   * option's value, sent with its label as `rich_media: {value}`.
   */
  send(text: string, value?: string): string | undefined {
    const content = text.trim();
    if (!content) return undefined;
    void this.ensureSession();
    if (!this.ws) return undefined;
    const id = this.ws.sendMessage(
      value ? { content, content_type: 'text', rich_media: { value } } : content,
    );
    this.render({ key: id, role: 'visitor', content, pending: true });
    this.stopTyping();
    return id;
  }

  private sendFromInput() {
    if (this.send(this.el.input.value)) this.el.input.value = '';
  }

  private applyMode() {
    const launcher = this.mode === 'launcher';
    // The preview of a docked panel shows the launcher too, below it, for its text and colour.
    const drawn = launcher || (this.isPreview && this.mode === 'panel');
    this.el.launcher.hidden = !drawn || this.launcherHiddenOffline();
    this.el.panel.hidden = launcher && !this.isOpen;
    this.el.header.hidden = this.mode === 'thread';
    this.el.close.hidden = !launcher;
    this.el.panel.setAttribute('role', launcher ? 'dialog' : 'region');
  }

  /** Nobody to answer now: no agent online, or outside the tenant's business hours. */
  private get offline(): boolean {
    return this.config?.is_online === false || this.config?.available === false;
  }

  /** `hide` while offline: no launcher, unless the visitor already has a conversation. */
  private launcherHiddenOffline(): boolean {
    return this.offline && this.config?.offline_behaviour === 'hide' && !this.isOpen && !this.load();
  }

  /** Everything the config decides: colour, avatar, texts, greeting, offline notice, launcher. */
  private applyBranding() {
    const b = this.config?.branding ?? {};
    const color = text(b.primary_color);
    if (color) this.style.setProperty('--_brand', color);
    else this.style.removeProperty('--_brand');
    const avatar = httpUrl(b.avatar_url);
    this.el.avatar.hidden = !avatar;
    if (avatar) this.el.avatar.src = avatar;
    else this.el.avatar.removeAttribute('src');
    this.applyStrings();
    this.applyMode();
  }

  /** The greeting leads an empty conversation; a resumed one with history goes without. */
  private showGreeting() {
    const greeting = text(this.config?.branding.greeting);
    if (!greeting || this.hasHistory) return void this.greeting.remove();
    this.greeting.className = 'msg bot greeting';
    this.greeting.setAttribute('part', 'message message-bot message-greeting');
    const who = document.createElement('span');
    who.className = 'sr-only';
    who.textContent = `${this.el.title.textContent ?? this.t.bot}: `;
    this.greeting.replaceChildren(who, document.createTextNode(greeting));
    if (this.el.list.firstChild !== this.greeting) this.el.list.prepend(this.greeting);
  }

  private applyStrings() {
    this.t = stringsFor(this.getAttribute('locale') ?? this.config?.locale);
    const title =
      (this.config?.branding.title as string | undefined) ?? this.config?.tenant_name ?? this.t.chat;
    this.el.title.textContent = title;
    this.el.panel.setAttribute('aria-label', title);
    const launcherText = this.config?.branding.launcher_text;
    this.el.launcher.textContent = typeof launcherText === 'string' ? launcherText : this.t.chat;
    this.el.launcher.setAttribute('aria-label', this.isOpen ? this.t.close : this.t.open);
    this.el.close.setAttribute('aria-label', this.t.close);
    this.el.list.setAttribute('aria-label', this.t.messages);
    this.el.label.textContent = this.t.message;
    this.el.input.placeholder = this.t.placeholder;
    this.el.send.textContent = this.t.send;
    this.attachments?.applyStrings();
    this.el.typing.textContent = this.t.typing;
    const notice = this.offline && this.config?.offline_behaviour !== 'hide';
    this.el.offline.hidden = !notice;
    this.el.offline.textContent = notice
      ? (text(this.config?.branding.offline_message) ?? this.t.offline)
      : '';
    // The email form needs a session: a preview (no network) shows the notice only.
    this.offlineRating?.setOffline(notice && !this.isPreview);
    this.offlineRating?.applyStrings();
    this.showGreeting();
    this.setState(this.state);
  }

  private setState(s: ConnectionState) {
    this.setAttribute('data-state', s);
    if (this.isPreview) {
      // No connection in a preview: the header says what visitors would see.
      this.el.status.textContent = this.offline ? this.t.closed : this.t.open_;
      this.el.conn.textContent = '';
      return;
    }
    const label = {
      connecting: this.t.connecting,
      open: this.t.open_,
      reconnecting: this.t.reconnecting,
      closed: this.t.closed,
    }[s];
    this.el.status.textContent = label;
    // The thread has no header: its state shows under the messages, unless all is well.
    this.el.conn.textContent = s === 'open' ? '' : label;
  }

  private get storageKey() {
    return `switchboard-chat:${this.getAttribute('tenant-id')}:${this.getAttribute('widget-key')}`;
  }
  private load(): Stored | undefined {
    if (this.isPreview) return undefined;
    try {
      const raw = sessionStorage.getItem(this.storageKey);
      return raw ? (JSON.parse(raw) as Stored) : undefined;
    } catch {
      return undefined;
    }
  }
  private save(s: Stored) {
    try {
      sessionStorage.setItem(this.storageKey, JSON.stringify(s));
    } catch {
      /* storage refused (private mode): the session lasts as long as the page */
    }
  }

  private maybeStart() {
    if (
      this.isConnected &&
      !this.isPreview &&
      !this.client &&
      this.getAttribute('tenant-id') &&
      this.getAttribute('widget-key')
    ) {
      void this.start();
    }
  }

  /** The widget config (enough to draw the launcher); the session waits for a first open. */
  private async start() {
    const baseUrl = this.getAttribute('base-url') ?? '';
    const tenantId = this.getAttribute('tenant-id')!;
    const widgetPublicKey = this.getAttribute('widget-key')!;
    this.client = new ChatClient({
      baseUrl: baseUrl || location.origin,
      tenantId,
      widgetPublicKey,
      origin: location.origin,
      ...(this.getAttribute('locale') ? { locale: this.getAttribute('locale')! } : {}),
    });
    try {
      this.config = await this.client.fetchWidgetConfig();
      this.applyBranding();
    } catch (err) {
      this.dispatchEvent(new CustomEvent('switchboard-error', { detail: err }));
    }
    if (this.mode !== 'launcher' || this.load()) void this.ensureSession();
  }

  /** The token the next welcome brings (or none after 15 s: the caller says it failed). */
  private welcomed(): Promise<string | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.ws?.visitorToken), 15_000);
      this.addEventListener(
        'switchboard-welcome',
        () => {
          clearTimeout(timer);
          resolve(this.ws?.visitorToken);
        },
        { once: true },
      );
    });
  }

  private sessionStarting: Promise<void> | undefined;
  private ensureSession(): Promise<void> {
    if (this.ws || !this.client || this.isPreview) return Promise.resolve();
    return (this.sessionStarting ??= this.startSession().finally(() => (this.sessionStarting = undefined)));
  }

  private async startSession() {
    const client = this.client!;
    const newToken = async () => {
      const s = await client.createVisitorSession();
      this.save({ token: s.visitor_token });
      return s.visitor_token;
    };
    const stored = this.load();
    const ws: WSClient = new WSClient({
      baseUrl: client.baseUrl,
      token: stored?.token,
      getToken: async (): Promise<string> => ws.visitorToken ?? (await newToken()),
      refreshToken: async (old) => {
        const r = await client.refreshVisitorToken(old);
        this.save({ token: r.visitor_token });
        return r.visitor_token;
      },
      recreateSession: async () => {
        this.el.list.replaceChildren();
        this.ticks.reset();
        this.shown.clear();
        this.hasHistory = false;
        this.showGreeting();
        return newToken();
      },
      onStateChange: (s) => this.setState(s),
      onWelcome: (w) => {
        // The history that follows (synchronously) is not announced; live messages are.
        this.welcomeDone = false;
        queueMicrotask(() => (this.welcomeDone = true));
        if (w.history.length) {
          this.hasHistory = true;
          this.greeting.remove();
        }
        this.save({ token: ws.visitorToken! });
        const d = w.delivery;
        if (d)
          queueMicrotask(() =>
            this.ticks.snapshot({
              delivered_seq: d.agent_delivered_seq,
              read_seq: d.agent_read_seq,
              read_at: d.agent_read_at,
            }),
          );
        this.dispatchEvent(new CustomEvent('switchboard-welcome', { detail: w }));
      },
      onMessage: (m) => this.onMessage(m, this.welcomeDone),
      onAck: (a) => {
        const li = this.shown.get(a.client_msg_id);
        if (li) {
          li.classList.remove('pending');
          li.dataset.id = a.id;
          li.dataset.seq = String(a.seq);
          this.shown.set(a.id, li);
          this.ticks.refresh();
        }
      },
      onTyping: (f) => {
        if (f.role !== 'visitor') this.el.typing.hidden = f.state !== 'start';
      },
      onError: (e) => this.dispatchEvent(new CustomEvent('switchboard-error', { detail: e })),
      onRatingRequest: (f) => this.offlineRating.ask(f.session_id),
      onDelivered: (f) => this.ticks.delivered(f.seq),
      onRead: (f) => this.ticks.read(f.message_ids, f.read_at),
    });
    this.ws = ws;
    ws.connect();
  }
  private welcomeDone = false;

  private onMessage(m: MsgFrame, live: boolean) {
    if (this.shown.has(m.id) || (m.client_msg_id && this.shown.has(m.client_msg_id))) return;
    if (m.role !== 'visitor') this.el.typing.hidden = true;
    const { buttons, options } = choicesOf(m);
    this.render({ key: m.id, role: m.role, content: m.content, buttons, options, media: mediaOfMsg(m) });
    const li = this.shown.get(m.id);
    if (li) {
      li.dataset.id = m.id;
      li.dataset.seq = String(m.seq);
      this.ticks.refresh();
    }
    if (live && m.role !== 'visitor') {
      // A fresh node, so screen readers announce each message once.
      const line = document.createElement('p');
      line.textContent = `${this.t[m.role]}: ${m.content || spokenMedia(m, this.t)}`;
      this.el.live.replaceChildren(line);
    }
    this.dispatchEvent(new CustomEvent('switchboard-message', { detail: m }));
  }

  private render(m: {
    key: string;
    role: string;
    content: string;
    pending?: boolean;
    buttons?: Choice[];
    options?: Choice[];
    media?: Media | undefined;
  }) {
    const li = document.createElement('li');
    li.className = `msg ${m.role}${m.pending ? ' pending' : ''}`;
    li.setAttribute('part', `message message-${m.role}`);
    const who = document.createElement('span');
    who.className = 'sr-only';
    who.textContent = `${this.t[m.role as keyof Strings] ?? m.role}: `;
    li.append(who);
    // The bot is named on screen too, so nobody mistakes its answers for a person's.
    if (m.role === 'bot') {
      const name = document.createElement('span');
      name.className = 'who';
      name.setAttribute('part', 'sender');
      name.setAttribute('aria-hidden', 'true');
      name.textContent = this.t.bot;
      li.append(name);
    }
    const media = m.media && mediaOf(m.media, this.t);
    li.append(document.createTextNode(media && captionRepeats(m.media!, m.content) ? '' : m.content));
    if (media) li.append(media);
    if (m.buttons?.length) {
      const row = document.createElement('div');
      row.className = 'buttons';
      for (const b of m.buttons) {
        const btn = document.createElement('button');
        btn.type = 'button';
        btn.textContent = b.label;
        btn.addEventListener('click', () => {
          for (const other of row.querySelectorAll('button')) other.disabled = true;
          btn.classList.add('chosen');
          this.send(b.label, b.value);
        });
        row.append(btn);
      }
      li.append(row);
    }
    if (m.options?.length) li.append(this.dropdown(m.options, m.content));
    this.shown.set(m.key, li);
    this.el.list.append(li);
    this.el.list.scrollTop = this.el.list.scrollHeight;
  }

  /** A dropdown message's options: a select and a send button; used once. */
  private dropdown(options: Choice[], caption: string): HTMLFormElement {
    const form = document.createElement('form');
    form.className = 'choose';
    const select = document.createElement('select');
    select.setAttribute('aria-label', caption || this.t.choose);
    const none = document.createElement('option');
    none.value = '';
    none.textContent = this.t.choose;
    none.disabled = none.selected = true;
    select.append(none);
    for (const o of options) {
      const opt = document.createElement('option');
      opt.value = o.value;
      opt.textContent = o.label;
      select.append(opt);
    }
    const go = document.createElement('button');
    go.type = 'submit';
    go.textContent = this.t.send;
    form.append(select, go);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const chosen = options.find((o) => o.value === select.value);
      if (!chosen) return select.focus();
      select.disabled = go.disabled = true;
      this.send(chosen.label, chosen.value);
    });
    return form;
  }

  /**
   * On a phone the open launcher panel is full screen: the host page must not scroll behind
   * it. Locked while open there, restored as it was on close. CSSOM, so a strict CSP allows it.
   */
  private locked: { html: string; body: string; x: number; y: number } | null = null;
  /** iOS ignores overflow:hidden for touch scrolling: any scroll goes back where it was. */
  private readonly hold = () => {
    const l = this.locked;
    if (l && (scrollX !== l.x || scrollY !== l.y)) scrollTo(l.x, l.y);
  };
  private lockPage() {
    const want = this.isConnected && this.mode === 'launcher' && this.isOpen && matchMedia(PHONE).matches;
    const html = document.documentElement.style;
    const body = document.body.style;
    if (want && !this.locked) {
      this.locked = { html: html.overflow, body: body.overflow, x: scrollX, y: scrollY };
      html.overflow = body.overflow = 'hidden';
      window.addEventListener('scroll', this.hold, { passive: true });
      window.visualViewport?.addEventListener('resize', this.fitViewport);
      this.fitViewport();
    } else if (!want && this.locked) {
      html.overflow = this.locked.html;
      body.overflow = this.locked.body;
      window.removeEventListener('scroll', this.hold);
      scrollTo(this.locked.x, this.locked.y);
      this.locked = null;
      window.visualViewport?.removeEventListener('resize', this.fitViewport);
      this.style.removeProperty('--sb-vh');
    }
  }

  /** The on-screen keyboard shrinks the visual viewport: the panel follows, composer in view. */
  private readonly fitViewport = () => {
    const vv = window.visualViewport;
    if (vv) this.style.setProperty('--sb-vh', `${Math.round(vv.height)}px`);
  };

  private visitorTyping() {
    if (!this.typingSent && this.el.input.value.trim()) this.typingSent = !!this.ws?.sendTyping('start');
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), 3000);
  }

  private stopTyping() {
    clearTimeout(this.typingTimer);
    if (this.typingSent) this.ws?.sendTyping('stop');
    this.typingSent = false;
  }
}
