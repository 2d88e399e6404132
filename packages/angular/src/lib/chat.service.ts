import { DestroyRef, Injectable, PLATFORM_ID, computed, inject, signal, type Signal } from '@angular/core';
import { isPlatformBrowser } from '@angular/common';
import { SWITCHBOARD_CHAT_CONFIG } from './config';
import type { WSClient } from '@switchboard/client-core';
import { createTransport, type ConnectionState, type MsgFrame, type WidgetConfig } from './transport';

/** `idle` until the first render in the browser, then the socket's states. */
export type ChatConnectionState = ConnectionState | 'idle';

/** One message of the thread, as the components show it. */
export interface ChatMessage {
  /** The stored message's id; a `local:` id until the server acks a visitor's message. */
  id: string;
  role: 'visitor' | 'agent' | 'bot' | 'system';
  content: string;
  createdAt: string;
  /** A visitor's message sent but not acked yet. */
  pending: boolean;
  clientMsgId?: string;
}

const TYPING_TIMEOUT_MS = 10_000;

/**
 * The chat's state as signals and its actions, shared by the launcher, the panel and the thread.
 * Nothing touches the network until `start()`, which the components call from `afterNextRender`
 * (never on the server).
 */
@Injectable()
export class SwitchboardChatService {
  private readonly config = inject(SWITCHBOARD_CHAT_CONFIG);
  private readonly browser = isPlatformBrowser(inject(PLATFORM_ID));
  private transport: WSClient | null = null;
  private typingTimer: ReturnType<typeof setTimeout> | null = null;

  private readonly _messages = signal<ChatMessage[]>([]);
  private readonly _unread = signal(0);
  private readonly _botTyping = signal(false);
  private readonly _state = signal<ChatConnectionState>('idle');
  private readonly _panelOpen = signal(false);
  private readonly _error = signal<string | null>(null);
  private readonly _widget = signal<WidgetConfig | null>(null);
  /** Chromeless threads on screen: while one is, nothing arrives unread. */
  private visibleThreads = 0;

  /** The conversation, oldest first. */
  readonly messages: Signal<ChatMessage[]> = this._messages.asReadonly();
  /** Messages from the agent or the bot that arrived while the panel was closed. */
  readonly unreadCount: Signal<number> = this._unread.asReadonly();
  /** The bot or an agent is typing. */
  readonly botTyping: Signal<boolean> = this._botTyping.asReadonly();
  readonly connectionState: Signal<ChatConnectionState> = this._state.asReadonly();
  readonly panelOpen: Signal<boolean> = this._panelOpen.asReadonly();
  /** The last error the server or the network reported, for the status line. */
  readonly lastError: Signal<string | null> = this._error.asReadonly();
  readonly connected = computed(() => this._state() === 'open');
  /** The tenant's public widget config (name, branding), from the socket's welcome. */
  readonly widgetConfig: Signal<WidgetConfig | null> = this._widget.asReadonly();
  /** The panel's title: the branding's, else the tenant's name. */
  readonly title = computed(() => {
    const w = this._widget();
    const title = w?.branding?.['title'];
    return typeof title === 'string' && title ? title : (w?.tenant_name ?? 'Chat');
  });

  constructor() {
    inject(DestroyRef).onDestroy(() => this.transport?.close());
  }

  /**
   * Creates the visitor session and opens the socket, once. The components call it after their
   * first render in the browser; call it yourself only from browser-only code.
   */
  start(): void {
    // On the server: nothing, ever (the browser connects after hydration).
    if (this.transport || !this.browser) return;
    // History arrives through onMessage too (de-duplicated by id): it is not unread.
    let history = new Set<string>();
    this.transport = createTransport(this.config, {
      onWelcome: (w) => {
        this._widget.set(w.widget_config);
        history = new Set(w.history.map((m) => m.id));
      },
      onMessage: (m) => this.receive(m, !history.has(m.id)),
      onAck: (a) =>
        this._messages.update((list) => {
          const confirmed = list.filter((m) => m.id !== a.id);
          return confirmed.map((m) =>
            m.clientMsgId === a.client_msg_id
              ? { ...m, id: a.id, createdAt: a.created_at, pending: false }
              : m,
          );
        }),
      onTyping: (t) => this.setTyping(t.state === 'start'),
      onError: (e) => this._error.set(e.message || e.code),
      onStateChange: (s) => this._state.set(s),
    });
    this.transport.connect();
  }

  openPanel(): void {
    this._panelOpen.set(true);
    this._unread.set(0);
    this.start();
  }

  closePanel(): void {
    this._panelOpen.set(false);
  }

  togglePanel(): void {
    if (this._panelOpen()) this.closePanel();
    else this.openPanel();
  }

  /** Sends a message as the visitor; it shows at once as pending, then as sent once acked. */
  sendMessage(text: string): void {
    const content = text.trim();
    if (!content) return;
    this.start();
    if (!this.transport) return;
    const clientMsgId = this.transport.sendMessage(content);
    this._messages.update((list) => [
      ...list,
      {
        id: `local:${clientMsgId}`,
        clientMsgId,
        role: 'visitor',
        content,
        createdAt: new Date().toISOString(),
        pending: true,
      },
    ]);
  }

  /** A chromeless thread shows the messages: none is unread while it is there. */
  attachThread(): () => void {
    this.visibleThreads++;
    this._unread.set(0);
    return () => void this.visibleThreads--;
  }

  /** Tells the agent the visitor is typing (`start`) or stopped (`stop`). */
  setVisitorTyping(typing: boolean): void {
    this.transport?.sendTyping(typing ? 'start' : 'stop');
  }

  private receive(m: MsgFrame, live: boolean): void {
    let added = false;
    this._messages.update((list) => {
      // A replay racing a live frame, or a visitor's own message from another tab: once, by id.
      if (list.some((x) => x.id === m.id || (m.client_msg_id && x.clientMsgId === m.client_msg_id)))
        return list;
      added = true;
      return [
        ...list,
        {
          id: m.id,
          role: m.role,
          content: m.content,
          createdAt: m.created_at,
          pending: false,
          ...(m.client_msg_id ? { clientMsgId: m.client_msg_id } : {}),
        },
      ];
    });
    if (!added || m.role === 'visitor') return;
    if (m.role === 'agent' || m.role === 'bot') this.setTyping(false);
    if (live && !this._panelOpen() && this.visibleThreads === 0) this._unread.update((n) => n + 1);
  }

  private setTyping(on: boolean): void {
    if (this.typingTimer) clearTimeout(this.typingTimer);
    this._botTyping.set(on);
    // The server sends `stop`, but a lost frame must not leave the indicator on for ever.
    if (on) this.typingTimer = setTimeout(() => this._botTyping.set(false), TYPING_TIMEOUT_MS);
  }
}
