import { InjectionToken } from '@angular/core';

/** What a tenant passes to `provideSwitchboardChat()`; the ids and key are public. */
export interface SwitchboardChatConfig {
  /** The tenant's id (`tenant_id`). */
  tenantId: string;
  /** The widget's public key (`widget_public_key`, `pk_…`). */
  publicKey: string;
  /** Where the Switchboard server answers, e.g. `https://chat.example.com`. */
  baseUrl: string;
  /** The visitor's language, sent with the session (the server's default is `fr`). */
  locale?: string;
  /**
   * Links the anonymous session to one of your users: returns `"userId:signature"`, where your
   * backend computes `signature = hex(hmac_sha256(tenant_secret, userId))`. Return `null` for an
   * anonymous visitor.
   */
  visitorTokenProvider?: () => string | null | undefined | Promise<string | null | undefined>;
  /** Free-form context kept on the session (at most 8 KB of JSON), e.g. an order id. */
  metadata?: Record<string, unknown>;
  /** The queue the conversation goes to (one of the tenant's routing keys). */
  routingKey?: string;
  /** `bot` (default) or `human`, to go straight to the operators' queue. */
  mode?: 'bot' | 'human';
}

export const SWITCHBOARD_CHAT_CONFIG = new InjectionToken<SwitchboardChatConfig>('SWITCHBOARD_CHAT_CONFIG');

/** Provided by the panel to the thread inside it: that thread is visible only while it is open. */
export const SB_CHAT_IN_PANEL = new InjectionToken<boolean>('SB_CHAT_IN_PANEL');
