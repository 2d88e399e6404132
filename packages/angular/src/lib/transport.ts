// The service's only contact with the wire: @switchboard/client-core's ChatClient (visitor
// session, refresh, identify) and WSClient (socket, reconnection, resume, send queue).
import { ChatClient, WSClient, type WSClientHandlers } from '@switchboard/client-core';
import type { SwitchboardChatConfig } from './config';

export type {
  AckFrame,
  ConnectionState,
  MsgFrame,
  WelcomeFrame,
  WidgetConfig,
} from '@switchboard/client-core';

/**
 * A WSClient whose token comes from a visitor session made on its first connection (identified
 * when the config has a `visitorTokenProvider`), refreshed on 4401 and re-created on 4404.
 */
export function createTransport(config: SwitchboardChatConfig, handlers: WSClientHandlers): WSClient {
  const client = new ChatClient({
    baseUrl: config.baseUrl,
    tenantId: config.tenantId,
    widgetPublicKey: config.publicKey,
    ...(config.locale ? { locale: config.locale } : {}),
  });
  const newSession = async (): Promise<string> => {
    const session = await client.createVisitorSession({
      ...(config.metadata ? { metadata: config.metadata } : {}),
      ...(config.routingKey ? { routingKey: config.routingKey } : {}),
      ...(config.mode ? { mode: config.mode } : {}),
    });
    const identity = await config.visitorTokenProvider?.();
    if (!identity) return session.visitor_token;
    const identified = await client.identifyVisitor(session.visitor_token, {
      visitorTokenProvider: identity,
    });
    return identified.visitor_token;
  };
  // WSClient asks getToken before each connection, so it must answer the latest token.
  let token: string | undefined;
  return new WSClient(
    {
      baseUrl: config.baseUrl,
      getToken: async () => (token ??= await newSession()),
      refreshToken: async (old) => (token = (await client.refreshVisitorToken(old)).visitor_token),
      recreateSession: async () => (token = await newSession()),
    },
    handlers,
  );
}
