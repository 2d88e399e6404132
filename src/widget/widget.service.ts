import { effectiveOrigins, type ChannelService } from '../channels/channels.service.js';
import { widgetMessageDto } from '../conversations/conversations.dto.js';
import type { ConversationService, VisitContext } from '../conversations/conversations.service.js';
import type { MessageService } from '../messages/messages.service.js';
import { AppError } from '../shared/errors.js';

export type WidgetService = ReturnType<typeof createWidgetService>;

/**
 * Where the widget is being shown, as far as the server can tell (see `hostOf` in the routes).
 * `origin` is the embedding page's origin (null when unknown), `framed` whether the browser says
 * the request is for a frame, `self` whether the embedding page is this server's own.
 */
export type HostContext = { origin: string | null; framed: boolean; self: boolean };

/**
 * The origin rule of an embed token. A blank list allows every origin. Otherwise the host page
 * must be on the list; a top-level visit (a WebView, a link) has no host page to check and is
 * allowed, because `frame-ancestors` still stops any other site from framing the page.
 */
export function originAllowed(allowedOrigins: string[], host: HostContext): boolean {
  if (allowedOrigins.length === 0 || host.self) return true;
  if (host.origin) return allowedOrigins.includes(host.origin);
  return !host.framed;
}

/** The CSP `frame-ancestors` value for a token: its origins (and this server), or any. */
export function frameAncestors(allowedOrigins: string[]): string {
  return allowedOrigins.length === 0 ? '*' : ["'self'", ...allowedOrigins].join(' ');
}

export function createWidgetService({
  channels,
  conversations,
  messages,
}: {
  channels: ChannelService;
  conversations: ConversationService;
  messages: MessageService;
}) {
  /**
   * The live token for a presented value (403 when unknown or revoked, its organization suspended
   * or its channel revoked). Its `allowedOrigins` are the ones that apply: the token's and its
   * organization's (see `effectiveOrigins`), so the page's origin check and `frame-ancestors` agree.
   */
  async function requireToken(token: string) {
    const { organization, channel: _channel, ...embedToken } = await channels.requireLiveEmbedToken(token);
    return {
      ...embedToken,
      allowedOrigins: effectiveOrigins(embedToken.allowedOrigins, organization.allowedOrigins),
    };
  }

  /** The live token for a presented value, checked against where the widget is shown. */
  async function authorize(token: string, host: HostContext) {
    const embedToken = await requireToken(token);
    if (!originAllowed(embedToken.allowedOrigins, host)) {
      throw new AppError(
        'origin/forbidden',
        host.origin
          ? `Origin ${host.origin} is not allowed for this embed token`
          : 'This embed token only works on its allowed origins',
      );
    }
    return embedToken;
  }

  return {
    authorize,

    /** Creates or reuses the visitor and their conversation on the token's channel, with history. */
    async open(input: {
      token: string;
      externalId: string;
      userHash?: string | undefined;
      displayName?: string | undefined;
      host: HostContext;
      /** Where and with what the visitor opened the chat (the agents' visitor panel). */
      visit?: VisitContext | undefined;
    }) {
      const embedToken = await authorize(input.token, input.host);
      const { endUser, conversation } = await conversations.openForEndUser({
        organizationId: embedToken.organizationId,
        channelId: embedToken.channelId,
        externalId: input.externalId,
        userHash: input.userHash,
        displayName: input.displayName,
        embedTokenId: embedToken.id,
        visit: input.visit,
      });
      const history = (await messages.recent(conversation.id, 100)).map(widgetMessageDto);
      return { embedToken, endUser, conversation, history };
    },

    /**
     * Renames the visitor (the host page's `set_name`, relayed by the widget page itself, so there
     * is no host origin to check here: the token and the visitor's id are the credentials, as on
     * the socket).
     */
    async rename(input: {
      token: string;
      externalId: string;
      userHash?: string | undefined;
      displayName: string;
    }) {
      const embedToken = await requireToken(input.token);
      await conversations.openForEndUser({
        organizationId: embedToken.organizationId,
        channelId: embedToken.channelId,
        externalId: input.externalId,
        userHash: input.userHash,
        displayName: input.displayName,
        embedTokenId: embedToken.id,
      });
    },
  };
}
