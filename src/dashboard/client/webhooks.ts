// Integration → Webhooks: where the organization's events are POSTed (the callback base URL and
// which events), a test event, and the delivery log (webhook-deliveries.ts).
import { api, ApiError, h } from '../../inbox/client/dom.js';
import { deliveryLog, type Delivery } from './webhook-deliveries.js';
import { form, section, select, uid } from './ui.js';

type Settings = { callback_base_url: string | null; events: string[]; available_events: string[] };

const BASE = '/api/organization/webhooks';
const DEFAULT_TEST_EVENT = 'conversation-started';

/** `{base}/api/v1/chat-callbacks/{event}`, as the server builds it (a path prefix is kept). */
function endpointFor(base: string, event: string): string {
  return `${base.replace(/\/+$/, '')}/api/v1/chat-callbacks/${event}`;
}

/** The server's refusals of a callback URL, in words for the field (null: not about the URL). */
function urlRefusal(e: unknown): string | null {
  if (!(e instanceof ApiError)) return null;
  if (e.code === 'webhook/url_refused') {
    const why = /refused: (.+?)\. /.exec(e.message)?.[1];
    return `Refused: private or loopback addresses are refused${why ? ` (${why})` : ''}. Use a public host.`;
  }
  if (e.code === 'request/invalid' && e.message.includes("'callback_base_url'"))
    return `Not a valid URL: ${e.message.replace(/^Invalid parameter 'callback_base_url': /, '')}.`;
  return null;
}

/** The base URL with its error line beside it, the endpoint pattern, one checkbox per event. */
function settingsForm(initial: Settings): HTMLFormElement {
  const id = uid('wh-url');
  const input = h('input', {
    id,
    name: 'callback_base_url',
    type: 'text',
    inputmode: 'url',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'https://api.example.com',
    value: initial.callback_base_url ?? '',
    'aria-describedby': `${id}-error ${id}-hint`,
  });
  const urlError = h('p', { id: `${id}-error`, class: 'error-text url-error', role: 'alert' });
  const pattern = h('code', { class: 'endpoint-pattern' });
  const syncPattern = () => (pattern.textContent = endpointFor(input.value.trim() || '{base}', '{event}'));
  syncPattern();
  const hint = h(
    'p',
    { id: `${id}-hint`, class: 'muted' },
    'Each event is POSTed, signed with the tenant secret, to ',
    pattern,
    '. Leave the URL empty to send no webhooks.',
  );
  const clearError = () => {
    urlError.textContent = '';
    input.removeAttribute('aria-invalid');
  };
  input.addEventListener('input', () => {
    syncPattern();
    clearError();
  });
  const boxes = initial.available_events.map((event) => {
    const boxId = uid(`wh-ev-${event}`);
    return h(
      'div',
      { class: 'choice' },
      h('input', {
        type: 'checkbox',
        id: boxId,
        name: 'events',
        value: event,
        checked: initial.events.includes(event),
      }),
      h('label', { for: boxId }, event),
    );
  });
  const events = h('fieldset', { class: 'choices' }, h('legend', {}, 'Events to send'), ...boxes);
  const status = h('p', { class: 'muted', role: 'status' });
  const f = form(
    'Callback URL and events',
    [
      h('div', { class: 'field' }, h('label', { for: id }, 'Callback base URL'), input, urlError),
      hint,
      events,
    ],
    'Save',
    async () => {
      status.textContent = '';
      clearError();
      const chosen = [...events.querySelectorAll<HTMLInputElement>('input:checked')].map((b) => b.value);
      if (!chosen.length)
        throw new ApiError(400, 'request/invalid', 'Tick at least one event; to send none, empty the URL.');
      try {
        const s = await api<Settings>('PUT', BASE, {
          callback_base_url: input.value.trim() || null,
          events: chosen,
        });
        input.value = s.callback_base_url ?? '';
        syncPattern();
        for (const b of events.querySelectorAll('input')) b.checked = s.events.includes(b.value);
        status.textContent = s.callback_base_url
          ? `Saved: ${s.events.length} of ${s.available_events.length} events go to ${s.callback_base_url}.`
          : 'Saved: no callback URL, so no webhooks are sent.';
      } catch (e) {
        const refusal = urlRefusal(e);
        if (!refusal) throw e;
        urlError.textContent = refusal;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
      }
    },
  );
  f.append(status);
  return f;
}

/** An event of the caller's choice with `data.test: true`, delivered like any other. */
function testForm(available: string[], onSent: () => void): HTMLFormElement {
  const status = h('p', { class: 'muted', role: 'status' });
  const f = form(
    'Send a test event',
    [
      select(
        'Event',
        'event',
        available.map((e) => [e, e]),
        DEFAULT_TEST_EVENT,
      ),
    ],
    'Send test event',
    async (d) => {
      status.textContent = '';
      try {
        const delivery = await api<Delivery>('POST', `${BASE}/test`, { event: d.event });
        status.textContent = `Test ${delivery.event} event queued; it appears in the delivery log below.`;
        onSent();
      } catch (e) {
        if (e instanceof ApiError && e.code === 'webhook/not_configured')
          throw new ApiError(e.status, e.code, 'Save a callback URL first: there is nowhere to send it.');
        throw e;
      }
    },
  );
  f.append(status);
  return f;
}

/** The section: settings, a test event, and the log (loaded before it is shown). */
export async function webhooksSection(): Promise<HTMLElement> {
  const settings = await api<Settings>('GET', BASE);
  const log = deliveryLog(BASE);
  await log.reload();
  log.watch();
  return section(
    'Webhooks',
    'Your backend hears about conversations, messages, tickets and agents as they happen: each event is ' +
      'POSTed to your callback URL and retried with back-off until it answers 2xx.',
    settingsForm(settings),
    testForm(settings.available_events, () => void log.reload().then(log.watch)),
    log.el,
  );
}
