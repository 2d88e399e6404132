import { z } from 'zod';
import type { Prisma } from '../generated/prisma/client.js';
import { text } from '../shared/validation.js';
import { businessHoursOf, type BusinessHours } from './hours.js';

/** A BCP 47 language tag as widgets send it: `fr`, `en`, `pt-BR`, `zh-Hant-TW`. */
export const localeTag = text()
  .trim()
  .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'must be a language tag such as fr, en or pt-BR')
  .max(35);

/** The widget's branding, as provisioning and the console take it (kept in the organization's `config`). */
export const brandingFields = {
  primary_color: text().regex(/^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, 'must be a hex colour such as #1f6feb'),
  /** The first line the widget shows a visitor. */
  greeting: text().trim().min(1, 'must not be empty').max(500),
  /** The launcher button's label. */
  launcher_text: text().trim().min(1, 'must not be empty').max(60),
  avatar_url: text()
    .max(2048)
    .pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
  /** What the widget says while no agent is online. */
  offline_message: text().trim().min(1, 'must not be empty').max(500),
};
type BrandingKey = keyof typeof brandingFields;
const BRANDING_KEYS = Object.keys(brandingFields) as BrandingKey[];

/** Which mode a visitor session starts in when the widget does not ask for one. */
export const defaultModeSchema = z.enum(['bot', 'human'], { error: 'must be bot or human' });
/**
 * While no agent is online: `message` keeps the widget and shows `offline_message` (messages wait
 * in the queue, the bot still answers in bot mode); `hide` hides the floating launcher.
 */
export const offlineBehaviourSchema = z.enum(['message', 'hide'], { error: 'must be message or hide' });

export type TenantSettings = {
  locale: string;
  default_mode: z.infer<typeof defaultModeSchema>;
  offline_behaviour: z.infer<typeof offlineBehaviourSchema>;
} & Partial<Record<BrandingKey, string>>;

/** Settings the console may change; `null` clears a branding field. */
export type SettingsPatch = Partial<Pick<TenantSettings, 'locale' | 'default_mode' | 'offline_behaviour'>> &
  Partial<Record<BrandingKey, string | null>> & {
    /** When the tenant is open (`null`: always). */
    business_hours?: BusinessHours | null;
  };

const asObject = (v: Prisma.JsonValue | undefined): Prisma.JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
const str = (v: Prisma.JsonValue | undefined) => (typeof v === 'string' && v ? v : undefined);

/** The organization's settings read from its `config` (defaults: `fr`, bot mode, offline message). */
export function settingsOf(config: Prisma.JsonValue): TenantSettings {
  const c = asObject(config);
  const nested = asObject(c.branding);
  const mode = defaultModeSchema.safeParse(c.default_mode);
  const offline = offlineBehaviourSchema.safeParse(c.offline_behaviour);
  const settings: TenantSettings = {
    locale: str(c.locale) ?? 'fr',
    default_mode: mode.success ? mode.data : 'bot',
    offline_behaviour: offline.success ? offline.data : 'message',
  };
  for (const key of BRANDING_KEYS) {
    const v = str(nested[key]) ?? str(c[key]);
    if (v !== undefined) settings[key] = v;
  }
  return settings;
}

/**
 * `config` with the patch applied: the fields given are set at the top level (a nested `branding`
 * copy of the same field is dropped, so the new value is the one widgets read), `null` removes one.
 */
export function withSettings(config: Prisma.JsonValue, patch: SettingsPatch): Prisma.InputJsonObject {
  const next: Record<string, Prisma.JsonValue | undefined> = { ...asObject(config) };
  const nested: Record<string, Prisma.JsonValue | undefined> = { ...asObject(next.branding) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    delete nested[key];
    if (value === null) delete next[key];
    else next[key] = value as Prisma.JsonValue;
  }
  if (next.branding !== undefined) next.branding = nested as Prisma.JsonObject;
  return next as Prisma.InputJsonObject;
}

/** The organization's business hours (`config.business_hours`); `null`: always open. */
export const hoursOf = (config: Prisma.JsonValue): BusinessHours | null =>
  businessHoursOf(asObject(config).business_hours);
