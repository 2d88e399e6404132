// Integration → Mobile SDK: one channel per bot, its Channel ID, and the FCM / APNs push
// credentials (write-only: what identifies them is shown back, never the secret).
import { api, formatTime, h } from '../../inbox/client/dom.js';
import { confirmButton, field, form, section, select } from './ui.js';

type Credential = Record<string, string | boolean | null> & { configured: boolean; updated_at: string };
type Channel = {
  id: string;
  channel_id: string;
  bot_id: string;
  name: string;
  push: { fcm: Credential | null; apns: Credential | null };
};
type Row = { bot_id: string; bot_name: string; channel: Channel | null };

const BASE = '/api/mobile/channels';

/** What is stored for a provider, as label/value pairs (secrets come back masked or not at all). */
function summary(c: Credential | null, keys: [string, string][]): HTMLElement {
  if (!c) return h('p', { class: 'muted' }, 'Not configured.');
  return h(
    'dl',
    { class: 'facts' },
    ...keys.flatMap(([k, label]) => (c[k] == null ? [] : [h('dt', {}, label), h('dd', {}, String(c[k]))])),
    h('dt', {}, 'Updated'),
    h('dd', {}, formatTime(c.updated_at)),
    ...(typeof c.notice === 'string' ? [h('dd', { class: 'notice' }, c.notice)] : []),
  );
}

function channelCard(r: Row, ch: Channel, rerender: () => Promise<void>): HTMLElement {
  const put = (provider: 'fcm' | 'apns') => async (body: Record<string, string>) => {
    const clean = Object.fromEntries(Object.entries(body).filter(([, v]) => v.trim() !== ''));
    await api('PUT', `${BASE}/${ch.id}/push/${provider}`, clean);
    await rerender();
  };
  const remove = (provider: 'fcm' | 'apns') =>
    ch.push[provider]
      ? confirmButton(`Remove ${provider.toUpperCase()} credentials`, 'Confirm remove', async () => {
          await api('DELETE', `${BASE}/${ch.id}/push/${provider}`);
          await rerender();
        })
      : null;
  return h(
    'article',
    { class: 'channel-card', 'data-bot': r.bot_id },
    h('h2', {}, r.bot_name),
    h('p', {}, 'Channel ID ', h('code', { class: 'channel-id' }, ch.channel_id)),
    h(
      'div',
      { class: 'two-col' },
      h(
        'div',
        {},
        h('h3', {}, 'FCM (Android)'),
        summary(ch.push.fcm, [
          ['sender_id', 'Sender ID'],
          ['legacy_server_key', 'Server Key'],
          ['project_id', 'Project'],
          ['client_email', 'Service account'],
        ]),
        remove('fcm'),
        form(
          'FCM credentials',
          [
            field('Server Key', 'server_key', { placeholder: 'Cloud Messaging → Server key' }),
            field('Sender ID', 'sender_id', { placeholder: 'Cloud Messaging → Sender ID' }),
            field('Service account JSON (FCM HTTP v1, needed to send)', 'service_account_json', {
              textarea: true,
            }),
          ],
          'Save FCM',
          put('fcm'),
        ),
      ),
      h(
        'div',
        {},
        h('h3', {}, 'APNs (iOS)'),
        summary(ch.push.apns, [
          ['team_id', 'Team ID'],
          ['bundle_id', 'Bundle ID'],
          ['key_id', 'Key ID'],
          ['environment', 'Environment'],
        ]),
        remove('apns'),
        form(
          'APNs credentials',
          [
            field('Team ID', 'team_id', { required: true }),
            field('Bundle ID', 'bundle_id', { required: true, placeholder: 'com.example.myapp' }),
            field('Key ID', 'key_id', { required: true }),
            field('Private Key (.p8, full PEM block)', 'private_key', { textarea: true, required: true }),
            select('Environment', 'environment', [
              ['sandbox', 'sandbox'],
              ['production', 'production'],
            ]),
          ],
          'Save APNs',
          put('apns'),
        ),
      ),
    ),
  );
}

export async function mobileSection(rerender: () => Promise<void>): Promise<HTMLElement> {
  const { items } = await api<{ items: Row[] }>('GET', BASE);
  const without = items.filter((r) => !r.channel);
  return section(
    'Mobile SDK',
    'Each bot gets one mobile channel. Apps open conversations with its Channel ID; push credentials let the platform notify them.',
    without.length
      ? form(
          'Create a mobile channel',
          [
            select(
              'Bot',
              'bot_id',
              without.map((r) => [r.bot_id, r.bot_name]),
            ),
          ],
          'Create Channel',
          async (d) => {
            await api('POST', BASE, { bot_id: d.bot_id });
            await rerender();
          },
        )
      : null,
    ...items.filter((r) => r.channel).map((r) => channelCard(r, r.channel!, rerender)),
    items.length ? null : h('p', { class: 'empty' }, 'Create a bot first (Bots).'),
  );
}
