import { makeEnvironmentProviders, type EnvironmentProviders } from '@angular/core';
import { SWITCHBOARD_CHAT_CONFIG, type SwitchboardChatConfig } from './config';
import { SwitchboardChatService } from './chat.service';

/**
 * Provides the chat to the application: `bootstrapApplication(App, { providers: [
 * provideSwitchboardChat({ tenantId, publicKey, baseUrl, locale }) ] })`. Nothing connects until
 * a chat component has rendered in the browser.
 */
export function provideSwitchboardChat(config: SwitchboardChatConfig): EnvironmentProviders {
  return makeEnvironmentProviders([
    { provide: SWITCHBOARD_CHAT_CONFIG, useValue: config },
    SwitchboardChatService,
  ]);
}
