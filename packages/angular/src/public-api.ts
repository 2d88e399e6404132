/*
 * @switchboard/angular: the Switchboard chat for Angular 17+.
 */
export { provideSwitchboardChat } from './lib/provide';
export { SWITCHBOARD_CHAT_CONFIG, type SwitchboardChatConfig } from './lib/config';
export { SwitchboardChatService, type ChatMessage, type ChatConnectionState } from './lib/chat.service';
export type { WidgetConfig } from './lib/transport';
export { SbChatLauncherComponent } from './lib/chat-launcher.component';
export { SbChatPanelComponent } from './lib/chat-panel.component';
export { SbChatThreadComponent } from './lib/chat-thread.component';
