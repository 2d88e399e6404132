import { SwitchboardChat } from './chat-element.js';

export { SwitchboardChat, type ChatMode } from './chat-element.js';

/** Registers `<switchboard-chat>` (done on import; call it again under another name if you like). */
export function defineSwitchboardChat(name = 'switchboard-chat') {
  if (!customElements.get(name)) customElements.define(name, class extends SwitchboardChat {});
}

if (typeof customElements !== 'undefined') defineSwitchboardChat();

declare global {
  interface HTMLElementTagNameMap {
    'switchboard-chat': SwitchboardChat;
  }
}
