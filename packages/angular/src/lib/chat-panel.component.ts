import { ChangeDetectionStrategy, Component, Input, ViewChild, afterNextRender, inject } from '@angular/core';
import { SwitchboardChatService } from './chat.service';
import { SB_CHAT_IN_PANEL } from './config';
import { SbChatThreadComponent } from './chat-thread.component';

let nextId = 0;

/**
 * The chat in a panel: a header (title, connection state, close) over the thread. `docked`
 * (default) sits in the page's layout and collapses to its header while closed, showing the
 * unread count; `floating` is the launcher's pop-up. Escape closes it.
 */
@Component({
  selector: 'sb-chat-panel',
  standalone: true,
  imports: [SbChatThreadComponent],
  providers: [{ provide: SB_CHAT_IN_PANEL, useValue: true }],
  changeDetection: ChangeDetectionStrategy.OnPush,
  host: {
    '[class.sb-panel--floating]': "mode === 'floating'",
    '[class.sb-panel--open]': 'chat.panelOpen()',
    '(keydown.escape)': 'chat.closePanel()',
  },
  template: `
    <section class="sb-panel" role="region" [attr.aria-labelledby]="titleId">
      <header class="sb-panel__header">
        <h2 class="sb-panel__title" [id]="titleId">{{ title ?? chat.title() }}</h2>
        <span class="sb-panel__state" role="status">{{ stateLabel() }}</span>
        @if (chat.panelOpen()) {
          <button
            type="button"
            class="sb-panel__toggle"
            [attr.aria-controls]="bodyId"
            aria-expanded="true"
            (click)="chat.closePanel()"
          >
            {{ closeLabel }}
          </button>
        } @else {
          <button
            type="button"
            class="sb-panel__toggle"
            [attr.aria-controls]="bodyId"
            aria-expanded="false"
            (click)="chat.openPanel()"
          >
            {{ openLabel }}
            @if (chat.unreadCount() > 0) {
              <span class="sb-badge"
                >{{ chat.unreadCount() }}<span class="sb-visually-hidden"> unread</span></span
              >
            }
          </button>
        }
      </header>
      <div class="sb-panel__body" [id]="bodyId" [hidden]="!chat.panelOpen()">
        <sb-chat-thread />
      </div>
    </section>
  `,
  styles: `
    :host {
      display: block;
      font: var(--sb-font, 14px/1.4 system-ui, sans-serif);
    }
    :host(.sb-panel--floating) {
      position: fixed;
      right: 20px;
      bottom: 88px;
      width: min(380px, calc(100vw - 40px));
      z-index: var(--sb-z-index, 2147483000);
    }
    .sb-panel {
      display: flex;
      flex-direction: column;
      border: 1px solid var(--sb-border, #d0d7de);
      border-radius: var(--sb-radius, 12px);
      background: var(--sb-background, #fff);
      overflow: hidden;
      box-shadow: var(--sb-shadow, 0 4px 16px rgb(0 0 0 / 12%));
    }
    .sb-panel__header {
      display: flex;
      align-items: center;
      gap: 8px;
      padding: 8px 12px;
      background: var(--sb-primary, #2557d6);
      color: var(--sb-on-primary, #fff);
    }
    .sb-panel__title {
      flex: 1;
      margin: 0;
      font-size: 1em;
    }
    .sb-panel__state {
      font-size: 0.8em;
      opacity: 0.85;
    }
    .sb-panel__toggle {
      font: inherit;
      border: 1px solid currentColor;
      border-radius: 6px;
      background: transparent;
      color: inherit;
      padding: 2px 8px;
      cursor: pointer;
    }
    .sb-badge {
      display: inline-block;
      min-width: 1.4em;
      margin-left: 4px;
      border-radius: 999px;
      background: var(--sb-badge, #d1242f);
      color: #fff;
      text-align: center;
      font-size: 0.85em;
    }
    .sb-panel__body {
      height: var(--sb-panel-height, 420px);
    }
    .sb-panel__body[hidden] {
      display: none;
    }
    :focus-visible {
      outline: 2px solid var(--sb-focus, #fff);
      outline-offset: 2px;
    }
    .sb-visually-hidden {
      position: absolute;
      width: 1px;
      height: 1px;
      overflow: hidden;
      clip: rect(0 0 0 0);
      white-space: nowrap;
    }
  `,
})
export class SbChatPanelComponent {
  protected readonly chat = inject(SwitchboardChatService);
  protected readonly titleId = `sb-chat-title-${nextId}`;
  protected readonly bodyId = `sb-chat-body-${nextId++}`;

  /** `docked` (in the page's layout) or `floating` (the launcher's pop-up). */
  @Input() mode: 'docked' | 'floating' = 'docked';
  /** Overrides the tenant's title. */
  @Input() title?: string;
  @Input() openLabel = 'Open chat';
  @Input() closeLabel = 'Close chat';

  @ViewChild(SbChatThreadComponent) private thread?: SbChatThreadComponent;

  constructor() {
    afterNextRender(() => {
      this.chat.start();
      // The launcher's pop-up takes the focus to its composer when it opens.
      if (this.mode === 'floating') this.thread?.focus();
    });
  }

  protected stateLabel(): string {
    switch (this.chat.connectionState()) {
      case 'open':
        return 'Online';
      case 'idle':
      case 'connecting':
        return 'Connecting…';
      case 'reconnecting':
        return 'Reconnecting…';
      default:
        return 'Offline';
    }
  }
}
