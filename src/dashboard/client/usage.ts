// Dashboard → Usage: the organization's relay traffic per UTC day (visitor sessions, end users'
// messages, signed API calls, webhooks sent) as charts with their numbers in tables, and what
// the current minute has used of the tenant's per-minute quota. Refreshed every 10 s while shown.
import { api, h } from '../../inbox/client/dom.js';
import { dayChart, type DayChart } from './usage-chart.js';
import { ratingsCard } from './usage-ratings.js';
import { errorText, row, section, table, uid } from './ui.js';

type Metric = 'sessions' | 'messages' | 'api_calls' | 'webhooks_sent';
type QuotaKind = 'visitors' | 'messages' | 'api_calls';
type Day = { day: string } & Record<Metric, number>;
type Usage = {
  days: Day[];
  totals: Record<Metric, number>;
  quota: { per_minute: number };
  current_minute: { kind: QuotaKind; used: number; refused: number; resets_in_s: number }[];
};

const METRICS: { key: Metric; name: string; about: string }[] = [
  { key: 'sessions', name: 'Sessions', about: 'Visitor sessions opened through the relay.' },
  { key: 'messages', name: 'Messages', about: "Messages sent by your end users (not agents' or bots')." },
  { key: 'api_calls', name: 'API calls', about: 'Signed calls from your backend (HMAC).' },
  { key: 'webhooks_sent', name: 'Webhooks sent', about: 'Webhook deliveries to your backend.' },
];
const KINDS: { kind: QuotaKind; name: string }[] = [
  { kind: 'visitors', name: 'New visitors' },
  { kind: 'messages', name: 'Messages' },
  { kind: 'api_calls', name: 'API calls' },
];
const PERIODS = [7, 30, 90];
const REFRESH_MS = 10_000;

const longDay = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  timeZone: 'UTC',
});
const n = (v: number) => v.toLocaleString();

/** One metric: heading, total, chart and, for screen readers and the curious, its table. */
function metricCard(m: (typeof METRICS)[number]) {
  const headingId = uid('usage-h');
  const total = h('strong', {});
  const period = h('span', {});
  const chart: DayChart = dayChart(m.name);
  const numbers = h('div', { class: 'usage-numbers' });
  const el = h(
    'article',
    { class: 'usage-chart', 'aria-labelledby': headingId, 'data-metric': m.key },
    h('h3', { id: headingId }, m.name),
    h('p', { class: 'usage-total' }, total, ' ', period),
    h('p', { class: 'muted' }, m.about),
    chart.el,
    h('details', {}, h('summary', {}, 'Show the numbers'), numbers),
  );
  return {
    el,
    chart,
    show(data: Usage) {
      total.textContent = n(data.totals[m.key]);
      period.textContent = `in the last ${data.days.length} days`;
      chart.update(
        data.days.map((d) => d.day),
        data.days.map((d) => d[m.key]),
      );
      // Newest first: today is what one looks for.
      const rows = [...data.days]
        .reverse()
        .map((d) =>
          row(h('time', { datetime: d.day }, longDay.format(new Date(`${d.day}T00:00:00Z`))), n(d[m.key])),
        );
      const wrap = table(['Day (UTC)', m.name], rows, 'No days.');
      wrap.querySelector('table')?.setAttribute('aria-label', `${m.name} per day`);
      numbers.replaceChildren(wrap);
    },
  };
}

/** The current minute of one quota kind: a meter, "used / quota", refusals and the reset. */
function minuteRow(k: (typeof KINDS)[number]) {
  const id = uid('usage-meter');
  const meter = h('meter', { id, min: 0 });
  const text = h('span', { class: 'usage-used' });
  const refused = h('span', { class: 'usage-refused' });
  const resets = h('span', { class: 'muted' });
  const el = h(
    'li',
    { class: 'usage-minute', 'data-kind': k.kind },
    h('label', { for: id }, k.name),
    meter,
    h('span', { class: 'usage-minute-text' }, text, refused, ' ', resets),
  );
  return {
    el,
    show(data: Usage) {
      const quota = data.quota.per_minute;
      const now = data.current_minute.find((c) => c.kind === k.kind);
      const used = now?.used ?? 0;
      meter.max = quota;
      meter.value = used;
      // Green up to 60 % of the quota, amber up to 90 %, red beyond.
      meter.low = quota * 0.6;
      meter.high = quota * 0.9;
      meter.optimum = 0;
      meter.setAttribute('aria-valuetext', `${n(used)} of ${n(quota)}`);
      text.textContent = `${n(used)} / ${n(quota)}`;
      refused.textContent = now && now.refused > 0 ? ` · ${n(now.refused)} refused` : '';
      resets.textContent = now ? `· resets in ${now.resets_in_s} s` : '';
    },
  };
}

export async function usageSection(_isOwner: boolean): Promise<HTMLElement> {
  let days = 30;
  let data = await api<Usage>('GET', `/api/organization/usage?days=${days}`);

  const cards = METRICS.map(metricCard);
  const ratings = ratingsCard();
  const minutes = KINDS.map(minuteRow);
  const quotaText = h('p', { class: 'usage-quota' });
  const status = h('span', { class: 'muted', role: 'status' });
  const alert = h('p', { class: 'error-text', role: 'alert' });
  const refresh = h('button', { type: 'button' }, 'Refresh');
  const charts = h('div', { class: 'usage-charts' }, ...cards.map((c) => c.el));

  const pickerName = uid('usage-days');
  const picker = h(
    'fieldset',
    { class: 'usage-period' },
    h('legend', {}, 'Period'),
    ...PERIODS.map((p) => {
      const id = `${pickerName}-${p}`;
      return h(
        'span',
        { class: 'usage-period-option' },
        h('input', { type: 'radio', id, name: pickerName, value: p, checked: p === days }),
        h('label', { for: id }, `${p} days`),
      );
    }),
  );

  function show() {
    quotaText.textContent = `${n(data.quota.per_minute)} per minute, each for new visitors, messages and API calls.`;
    for (const m of minutes) m.show(data);
    for (const c of cards) c.show(data);
    ratings.show(data);
    status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }

  // Only the latest request is shown (a slow answer for 90 days must not replace one for 7).
  let seq = 0;
  async function load() {
    const mine = ++seq;
    charts.setAttribute('aria-busy', 'true');
    try {
      const next = await api<Usage>('GET', `/api/organization/usage?days=${days}`);
      if (mine !== seq) return;
      data = next;
      alert.textContent = '';
      show();
    } catch (e) {
      if (mine === seq) alert.textContent = errorText(e);
    } finally {
      if (mine === seq) charts.setAttribute('aria-busy', 'false');
    }
  }

  picker.addEventListener('change', (ev) => {
    const input = ev.target as HTMLInputElement;
    days = Number(input.value);
    void load();
  });
  refresh.addEventListener('click', () => {
    refresh.disabled = true;
    void load().finally(() => (refresh.disabled = false));
  });

  const el = section(
    'Usage',
    'Your organization’s relay traffic per UTC day. Counts arrive within a few seconds; the current minute is live.',
    h('div', { class: 'usage-toolbar' }, refresh, ' ', status),
    alert,
    // Refreshed every 10 s: not read out each time (the page's main region is a live region).
    h(
      'div',
      { class: 'usage-now', 'aria-live': 'off' },
      h('h2', {}, 'This minute'),
      quotaText,
      h('ul', { class: 'usage-minutes' }, ...minutes.map((m) => m.el)),
    ),
    h('h2', {}, 'Per day'),
    picker,
    ratings.el,
    charts,
  );
  show();

  // Sections are replaced on hashchange: once this one is off the page, stop and let go.
  const timer = setInterval(() => {
    if (!el.isConnected) {
      clearInterval(timer);
      for (const c of cards) c.chart.destroy();
      return;
    }
    if (!document.hidden) void load();
  }, REFRESH_MS);
  return el;
}
