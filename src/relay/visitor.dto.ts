import type { Organization, Prisma, VisitorSession } from '../generated/prisma/client.js';
import { isOpen } from '../tenants/hours.js';
import { hoursOf, settingsOf } from '../tenants/settings.js';

/** The organization `config` keys a widget may show (everything else there stays private). */
const BRANDING_KEYS = [
  'primary_color',
  'accent_color',
  'theme',
  'position',
  'title',
  'subtitle',
  'greeting',
  'launcher_text',
  'offline_message',
  'logo_url',
  'avatar_url',
] as const;

type Scalar = string | number | boolean;
const isScalar = (v: unknown): v is Scalar => ['string', 'number', 'boolean'].includes(typeof v);
const asObject = (v: Prisma.JsonValue | undefined): Prisma.JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};

/** The branding a widget renders: the listed keys of `config`, and the scalars of `config.branding`. */
export function brandingOf(config: Prisma.JsonValue): Record<string, Scalar> {
  const c = asObject(config);
  const branding: Record<string, Scalar> = {};
  for (const key of BRANDING_KEYS) {
    const v = c[key];
    if (isScalar(v)) branding[key] = v;
  }
  for (const [key, v] of Object.entries(asObject(c.branding))) if (isScalar(v)) branding[key] = v;
  return branding;
}

/** The tenant's default locale (`config.locale`), else `fr`. */
export const defaultLocale = (org: Organization): string => settingsOf(org.config).locale;

/**
 * What a widget needs to render its launcher (`widget_config`). `now` is the gateway's clock, for
 * the business hours.
 */
export function widgetConfigDto(org: Organization, o: { isOnline: boolean; locale: string; now: Date }) {
  const open = isOpen(hoursOf(org.config), o.now);
  return {
    tenant_id: org.id,
    tenant_name: org.name,
    is_online: o.isOnline,
    locale: o.locale,
    branding: brandingOf(org.config),
    /** While no agent is online: `message` (show `branding.offline_message`) or `hide` (no launcher). */
    offline_behaviour: settingsOf(org.config).offline_behaviour,
    /** Within the tenant's business hours (always, without any). */
    is_open: open,
    /** Open and an agent online: someone may answer now. Otherwise the widget offers to leave an email. */
    available: open && o.isOnline,
  };
}

/** A session and its new token, as create, refresh and identify answer. */
export function sessionTokenDto(session: VisitorSession, token: { token: string; expiresAt: Date }) {
  return {
    session_id: session.id,
    visitor_token: token.token,
    expires_at: token.expiresAt.toISOString(),
    session_expires_at: session.expiresAt.toISOString(),
    conversation_id: session.conversationId,
    mode: session.mode,
    locale: session.locale,
  };
}
