import {
  ChangeDetectionStrategy,
  Component,
  ElementRef,
  Input,
  afterNextRender,
  inject,
} from '@angular/core';
import { SwitchboardChatService } from './chat.service';
import { SbChatPanelComponent } from './chat-panel.component';

/**
 * The floating mode: a corner bubble with the unread count that opens the chat in a pop-up
 * panel. The bubble is a real button (Enter and Space open it; Escape in the panel closes it).
 */
@Component({
  selector: 'sb-chat-launcher',
  standalone: true,
  imports: [SbChatPanelComponent],
  changeDetection: ChangeDetectionStrategy.OnPush,
  // The panel closes itself on Escape; the focus then comes back to the bubble.
  host: { '(keydown.escape)': 'focusButton()' },
  template: `
    @if (chat.panelOpen()) {
      <sb-chat-panel mode="floating" [title]="title" />
    }
    <button
      type="button"
      class="sb-launcher"
      [attr.aria-expanded]="chat.panelOpen()"
      [attr.aria-label]="label()"
      (click)="chat.togglePanel()"
    >
      <svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false">
        <path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z" />
      </svg>
      @if (chat.unreadCount() > 0) {
        <span class="sb-badge" aria-hidden="true">{{ chat.unreadCount() }}</span>
      }
    </button>
  `,
  styles: `
    .sb-launcher {
      position: fixed;
      right: 20px;
      bottom: 20px;
      width: 56px;
      height: 56px;
      border: 0;
      border-radius: 50%;
      background: var(--sb-primary, #2557d6);
      color: var(--sb-on-primary, #fff);
      box-shadow: var(--sb-shadow, 0 4px 16px rgb(0 0 0 / 20%));
      cursor: pointer;
      z-index: var(--sb-z-index, 2147483000);
    }
    .sb-launcher:focus-visible {
      outline: 3px solid var(--sb-focus, #0969da);
      outline-offset: 2px;
    }
    .sb-badge {
      position: absolute;
      top: -4px;
      right: -4px;
      min-width: 20px;
      height: 20px;
      border-radius: 10px;
      background: var(--sb-badge, #d1242f);
      color: #fff;
      font:
        12px/20px system-ui,
        sans-serif;
    }
  `,
})
export class SbChatLauncherComponent {
  protected readonly chat = inject(SwitchboardChatService);

  @Input() title?: string;
  @Input() openLabel = 'Open chat';
  @Input() closeLabel = 'Close chat';

  constructor() {
    afterNextRender(() => this.chat.start());
  }

  private readonly host = inject<ElementRef<HTMLElement>>(ElementRef);

  protected focusButton(): void {
    this.host.nativeElement.querySelector<HTMLElement>('.sb-launcher')?.focus();
  }

  protected label(): string {
    if (this.chat.panelOpen()) return this.closeLabel;
    const unread = this.chat.unreadCount();
    return unread > 0 ? `${this.openLabel} (${unread} unread)` : this.openLabel;
  }
}
