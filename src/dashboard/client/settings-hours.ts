// Widget & origins → Business hours: the tenant's time zone and, per day, the ranges it is open
// ("09:00-12:00, 14:00-18:00"; empty: closed), or always open. Outside them the widget shows the
// offline message and offers to leave an email. The server validates again (zone, times, overlaps).
import { api, h } from '../../inbox/client/dom.js';
import { errorText, labelled, type Field } from './ui.js';

type Day = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export type BusinessHours = { time_zone: string; days: Partial<Record<Day, [string, string][]>> } | null;

const DAYS: [Day, string][] = [
  ['mon', 'Monday'],
  ['tue', 'Tuesday'],
  ['wed', 'Wednesday'],
  ['thu', 'Thursday'],
  ['fri', 'Friday'],
  ['sat', 'Saturday'],
  ['sun', 'Sunday'],
];
const RANGE = /^(\d{2}:\d{2})\s*[-–]\s*(\d{2}:\d{2})$/;
const DEFAULT: [string, string][] = [['09:00', '18:00']];

const show = (ranges: [string, string][] | undefined) =>
  (ranges ?? []).map(([a, b]) => `${a}-${b}`).join(', ');

/** The day's text as ranges, or why it cannot be read. */
function parse(text: string): [string, string][] | string {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const out: [string, string][] = [];
  for (const p of parts) {
    const m = RANGE.exec(p);
    if (!m) return `Write ranges as 09:00-18:00, separated by commas (“${p}” is not one)`;
    out.push([m[1]!, m[2]!]);
  }
  return out;
}

/** The business hours card; `onSaved` gets the organization the server answered. */
export function hoursPanel(
  initial: BusinessHours,
  onSaved: (org: { business_hours: BusinessHours }) => void,
) {
  const always = h('input', { type: 'checkbox', id: 'hours-always', checked: initial === null });
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const zone = labelled(
    'Time zone',
    h('input', {
      name: 'time_zone',
      type: 'text',
      list: 'hours-zones',
      autocomplete: 'off',
      spellcheck: 'false',
      value: initial?.time_zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
    }),
    'An IANA time zone, such as Europe/Paris',
  );
  const list = h('datalist', { id: 'hours-zones' }, ...zones.map((z) => h('option', { value: z })));
  const days = new Map<Day, Field>();
  for (const [day, label] of DAYS) {
    const weekday = day !== 'sat' && day !== 'sun';
    const value = initial ? show(initial.days[day]) : weekday ? show(DEFAULT) : '';
    days.set(
      day,
      labelled(label, h('input', { name: `hours_${day}`, type: 'text', value, placeholder: 'Closed' })),
    );
  }
  const grid = h('div', { class: 'hours-days' }, ...[...days.values()].map((f) => f.el));
  const status = h('p', { class: 'muted', role: 'status' });
  const alert = h('p', { class: 'error-text', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save hours');
  const sync = () => {
    const off = always.checked;
    zone.control.disabled = off;
    for (const f of days.values()) f.control.disabled = off;
    grid.hidden = off;
    zone.el.hidden = off;
  };
  always.addEventListener('change', sync);
  sync();

  const f = h(
    'form',
    { class: 'card-form hours', 'aria-labelledby': 'hours-title', novalidate: true },
    h('h2', { id: 'hours-title' }, 'Business hours'),
    h(
      'p',
      { class: 'muted' },
      'Outside these hours, or with no agent online, the widget shows the offline message and asks for an email.',
    ),
    h('div', { class: 'field check' }, always, h('label', { for: 'hours-always' }, 'Always open')),
    zone.el,
    list,
    grid,
    save,
    alert,
    status,
  );
  f.addEventListener('input', () => (status.textContent = ''));
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    alert.textContent = '';
    let body: BusinessHours = null;
    if (!always.checked) {
      const parsed: Partial<Record<Day, [string, string][]>> = {};
      for (const [day, field] of days) {
        const r = parse(field.control.value);
        if (typeof r === 'string') {
          field.error.textContent = r;
          field.control.setAttribute('aria-invalid', 'true');
          field.control.focus();
          return;
        }
        parsed[day] = r;
      }
      body = { time_zone: zone.control.value.trim(), days: parsed };
    }
    save.disabled = true;
    api<{ business_hours: BusinessHours }>('PATCH', '/api/organization', { business_hours: body })
      .then((next) => {
        status.textContent = next.business_hours
          ? `Saved: open in ${next.business_hours.time_zone} time.`
          : 'Saved: always open.';
        onSaved(next);
      })
      .catch((e: unknown) => (alert.textContent = errorText(e)))
      .finally(() => (save.disabled = false));
  });
  return { el: f };
}
