import {
  ChangeDetectionStrategy,
  Component,
  Input,
  DestroyRef,
  ElementRef,
  afterNextRender,
  effect,
  inject,
  signal,
  ViewChild,
} from '@angular/core';
import { SwitchboardChatService } from './chat.service';
import { SB_CHAT_IN_PANEL } from './config';

let nextId = 0;

/**
 * The chromeless thread: the messages and the composer, nothing else, to embed anywhere. The
 * list is a `log` live region, so screen readers announce new messages; Enter sends, Shift+Enter
 * starts a new line.
 */
@Component({
  selector: 'sb-chat-thread',
  standalone: true,
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <ol
      #log
      class="sb-thread__messages"
      role="log"
      aria-live="polite"
      aria-relevant="additions"
      [attr.aria-label]="messagesLabel"
      tabindex="0"
    >
      @for (m of chat.messages(); track m.id) {
        <li [class]="'sb-msg sb-msg--' + m.role" [attr.aria-busy]="m.pending || null">
          <span class="sb-visually-hidden">{{ who(m.role) }}: </span>
          <span class="sb-msg__text">{{ m.content }}</span>
          @if (m.pending) {
            <span class="sb-msg__status"> · sending</span>
          }
        </li>
      }
    </ol>
    <div class="sb-thread__typing" role="status">
      @if (chat.botTyping()) {
        <span>{{ typingLabel }}</span>
      }
    </div>
    <form class="sb-thread__composer" (submit)="send($event)">
      <label class="sb-visually-hidden" [attr.for]="inputId">{{ inputLabel }}</label>
      <textarea
        [id]="inputId"
        name="message"
        rows="1"
        [placeholder]="placeholder"
        [value]="draft()"
        (input)="onInput($event)"
        (keydown.enter)="onEnter($event)"
        (blur)="stopTyping()"
      ></textarea>
      <button type="submit" [disabled]="!draft().trim()">{{ sendLabel }}</button>
    </form>
  `,
  styles: `
    :host {
      display: flex;
      flex-direction: column;
      min-height: 0;
      height: 100%;
      font: var(--sb-font, 14px/1.4 system-ui, sans-serif);
      color: var(--sb-text, #1f2328);
    }
    .sb-thread__messages {
      flex: 1;
      overflow-y: auto;
      margin: 0;
      padding: 12px;
      list-style: none;
      display: flex;
      flex-direction: column;
      gap: 6px;
    }
    .sb-msg {
      max-width: 80%;
      padding: 6px 10px;
      border-radius: 12px;
      background: var(--sb-bubble, #f0f1f3);
      white-space: pre-wrap;
      overflow-wrap: anywhere;
    }
    .sb-msg--visitor {
      align-self: flex-end;
      background: var(--sb-primary, #2557d6);
      color: var(--sb-on-primary, #fff);
    }
    .sb-msg--system {
      align-self: center;
      background: transparent;
      font-style: italic;
    }
    .sb-msg__status {
      opacity: 0.75;
      font-size: 0.85em;
    }
    .sb-thread__typing {
      min-height: 1.4em;
      padding: 0 12px;
      font-size: 0.85em;
      opacity: 0.8;
    }
    .sb-thread__composer {
      display: flex;
      gap: 6px;
      padding: 8px;
      border-top: 1px solid var(--sb-border, #d0d7de);
    }
    textarea {
      flex: 1;
      resize: none;
      font: inherit;
      padding: 6px 8px;
      border: 1px solid var(--sb-border, #d0d7de);
      border-radius: 8px;
    }
    button {
      font: inherit;
      padding: 6px 12px;
      border: 0;
      border-radius: 8px;
      background: var(--sb-primary, #2557d6);
      color: var(--sb-on-primary, #fff);
      cursor: pointer;
    }
    button:disabled {
      opacity: 0.5;
      cursor: default;
    }
    :focus-visible {
      outline: 2px solid var(--sb-focus, #0969da);
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
export class SbChatThreadComponent {
  protected readonly chat = inject(SwitchboardChatService);
  protected readonly inputId = `sb-chat-input-${nextId++}`;
  protected readonly draft = signal('');
  @ViewChild('log') private log?: ElementRef<HTMLElement>;
  private typing = false;
  private readonly host = inject<ElementRef<HTMLElement>>(ElementRef);

  @Input() placeholder = 'Write a message…';
  @Input() inputLabel = 'Message';
  @Input() sendLabel = 'Send';
  @Input() messagesLabel = 'Messages';
  @Input() typingLabel = 'Typing…';

  constructor() {
    // In the browser only, after the first render: server rendering makes no network call.
    afterNextRender(() => this.chat.start());
    if (!inject(SB_CHAT_IN_PANEL, { optional: true })) {
      inject(DestroyRef).onDestroy(this.chat.attachThread());
    }
    // Keep the newest message in view.
    effect(() => {
      this.chat.messages();
      const el = this.log?.nativeElement;
      if (el) queueMicrotask(() => (el.scrollTop = el.scrollHeight));
    });
  }

  /** Moves the keyboard focus to the composer. */
  focus(): void {
    this.host.nativeElement.querySelector('textarea')?.focus();
  }

  protected who(role: string): string {
    return role === 'visitor' ? 'You' : role === 'agent' ? 'Agent' : role === 'bot' ? 'Bot' : 'Info';
  }

  protected onInput(event: Event): void {
    const value = (event.target as HTMLTextAreaElement).value;
    this.draft.set(value);
    const typing = value.trim().length > 0;
    if (typing !== this.typing) {
      this.typing = typing;
      this.chat.setVisitorTyping(typing);
    }
  }

  protected onEnter(event: Event): void {
    if ((event as KeyboardEvent).shiftKey || (event as KeyboardEvent).isComposing) return;
    this.send(event);
  }

  protected stopTyping(): void {
    if (!this.typing) return;
    this.typing = false;
    this.chat.setVisitorTyping(false);
  }

  protected send(event: Event): void {
    event.preventDefault();
    const text = this.draft();
    if (!text.trim()) return;
    this.chat.sendMessage(text);
    this.draft.set('');
    this.stopTyping();
  }
}
