// The test app: a standalone Angular application that uses the built library (dist/) as a
// tenant would. Bundled by esbuild in JIT mode: '@angular/compiler' is loaded first so the
// library's partial declarations are compiled at run time.
import '@angular/compiler';
import { Component, inject, provideZonelessChangeDetection } from '@angular/core';
import { bootstrapApplication } from '@angular/platform-browser';
import {
  provideSwitchboardChat,
  SbChatLauncherComponent,
  SbChatPanelComponent,
  SbChatThreadComponent,
  SwitchboardChatService,
} from '@switchboard/angular';

/** From the shop's server; `identity` ("userId:signature") when a user is signed in. */
type TestConfig = { tenantId: string; publicKey: string; baseUrl: string; identity?: string };
const config = (globalThis as unknown as { SB_TEST_CONFIG: TestConfig }).SB_TEST_CONFIG;

@Component({
  selector: 'test-app',
  standalone: true,
  imports: [SbChatLauncherComponent, SbChatPanelComponent, SbChatThreadComponent],
  template: `
    <main>
      <h1>Shop</h1>
      <p>
        Unread: <output id="unread">{{ chat.unreadCount() }}</output>
      </p>
      @if (mode === 'thread') {
        <section aria-label="Help"><sb-chat-thread /></section>
      }
    </main>
    @if (mode === 'launcher') {
      <sb-chat-launcher />
    } @else if (mode === 'docked') {
      <aside><sb-chat-panel mode="docked" /></aside>
    }
  `,
})
class TestApp {
  protected readonly chat = inject(SwitchboardChatService);
  /** `?mode=docked|launcher|thread`: the three rendering modes. */
  protected readonly mode = new URLSearchParams(location.search).get('mode') ?? 'docked';
}

bootstrapApplication(TestApp, {
  providers: [
    provideZonelessChangeDetection(),
    provideSwitchboardChat({
      tenantId: config.tenantId,
      publicKey: config.publicKey,
      baseUrl: config.baseUrl,
      locale: 'en',
      visitorTokenProvider: () => config.identity,
    }),
  ],
}).then(
  (app) => {
    // The test reads the service's signals directly too.
    (globalThis as unknown as { sbChat: SwitchboardChatService }).sbChat =
      app.injector.get(SwitchboardChatService);
  },
  (err: unknown) => console.error(err),
);
