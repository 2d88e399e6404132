// Integration → Webhooks, the delivery log: newest first, paged by cursor, refreshed while
// deliveries are pending; each delivery's attempts on demand, and redelivery.
import { api, formatTime, h } from '../../inbox/client/dom.js';
import { errorText, row, table, uid } from './ui.js';

export type Delivery = {
  id: string;
  event: string;
  conversation_id: string | null;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: string | null;
  created_at: string;
  /** The last attempt's latency (null: none yet). */
  last_latency_ms: number | null;
};
type Attempt = {
  attempt: number;
  status_code: number | null;
  ok: boolean;
  error: string | null;
  latency_ms: number;
  response_excerpt: string | null;
  url: string;
  at: string;
};
type Detail = Delivery & { attempt_log: Attempt[] };
type DeliveryPage = { items: Delivery[]; next_cursor: string | null };

const PAGE_SIZE = 20;
// While deliveries on the newest page are pending, the log refreshes itself for a while.
const POLL_MS = 2000;
const POLLS = 15;

// Retries can be seconds apart: an attempt's time has its seconds.
const attemptTime = (iso: string) =>
  new Date(iso).toLocaleString([], { dateStyle: 'short', timeStyle: 'medium' });
const ms = (n: number | null | undefined) => (typeof n === 'number' ? `${Math.round(n)} ms` : '—');

function attemptsView(d: Detail): HTMLElement {
  return h(
    'div',
    { class: 'delivery-detail-body' },
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Delivery ID'),
      h('dd', {}, h('code', {}, d.id)),
      h('dt', {}, 'Conversation'),
      h('dd', {}, d.conversation_id ? h('code', {}, d.conversation_id) : '—'),
      ...(d.delivered_at ? [h('dt', {}, 'Delivered'), h('dd', {}, formatTime(d.delivered_at))] : []),
      ...(d.next_attempt_at && d.status === 'pending'
        ? [h('dt', {}, 'Next attempt'), h('dd', {}, formatTime(d.next_attempt_at))]
        : []),
      ...(d.last_error ? [h('dt', {}, 'Last error'), h('dd', {}, d.last_error)] : []),
    ),
    table(
      ['Attempt', 'Status code', 'Latency', 'Error', 'Response excerpt', 'Time'],
      d.attempt_log.map((a) =>
        row(
          String(a.attempt),
          a.status_code === null ? '—' : String(a.status_code),
          ms(a.latency_ms),
          a.error ?? '',
          a.response_excerpt ? h('code', { class: 'excerpt' }, a.response_excerpt) : '',
          attemptTime(a.at),
        ),
      ),
      'No attempts yet.',
    ),
  );
}

/**
 * The delivery log of the webhooks API at `base`: newest first, paged by cursor, each row with
 * Redeliver and Details. `watch()` refreshes it for a while, as after queuing something.
 */
export function deliveryLog(base: string): {
  el: HTMLElement;
  reload: () => Promise<void>;
  watch: () => void;
} {
  // cursors[i] opens page i; the first page has none.
  const cursors: (string | null)[] = [null];
  let pageNo = 0;
  let next: string | null = null;
  let statusFilter = '';
  const open = new Set<string>();
  const details = new Map<string, Detail>();

  // What the page shows, or what the reader's last action did until they load again.
  const status = h('p', { class: 'muted', role: 'status' });
  let note: string | null = null;
  const say = (text: string) => {
    // The same words again are not announced again (polls redraw every few seconds).
    if (status.textContent !== text) status.textContent = text;
  };
  const alert = h('p', { class: 'error-text', role: 'alert' });
  // The page's main area is a live region; the table redraws while polling and must not be read out.
  const body = h('div', { class: 'delivery-log', 'aria-live': 'off' });
  const refresh = h('button', { type: 'button' }, 'Refresh');
  const newer = h('button', { type: 'button', disabled: true }, 'Newer');
  const older = h('button', { type: 'button', disabled: true }, 'Older');
  const filterId = uid('wh-status');
  const filter = h(
    'select',
    { id: filterId },
    ...[
      ['', 'All'],
      ['pending', 'Pending'],
      ['delivered', 'Delivered'],
      ['failed', 'Failed'],
    ].map(([v, l]) => h('option', { value: v }, l)),
  );

  /** A delivery's attempts, fetched again only when it has changed. */
  async function detail(d: Delivery): Promise<Detail> {
    const known = details.get(d.id);
    if (known && known.attempt_log.length === d.attempts && known.status === d.status) return known;
    const fresh = await api<Detail>('GET', `${base}/deliveries/${d.id}`);
    details.set(d.id, fresh);
    return fresh;
  }

  function deliveryRows(d: Delivery): HTMLTableRowElement[] {
    const panelId = uid('wh-detail');
    const latency = h('span', { class: 'latency' }, ms(d.last_latency_ms));
    const panel = h('td', { colspan: 7 });
    const detailRow = h('tr', { id: panelId, class: 'delivery-detail', hidden: !open.has(d.id) }, panel);
    const toggle = h(
      'button',
      {
        type: 'button',
        'data-key': `details:${d.id}`,
        'aria-expanded': String(open.has(d.id)),
        'aria-controls': panelId,
        'aria-label': `Details of ${d.event} delivery created ${formatTime(d.created_at)}`,
      },
      'Details',
    );
    const showDetail = async () => {
      if (!details.has(d.id)) panel.replaceChildren(h('p', { class: 'muted' }, 'Loading attempts…'));
      try {
        panel.replaceChildren(attemptsView(await detail(d)));
      } catch (e) {
        panel.replaceChildren(h('p', { class: 'error-text', role: 'alert' }, errorText(e)));
      }
    };
    toggle.addEventListener('click', () => {
      const show = detailRow.hidden;
      detailRow.hidden = !show;
      toggle.setAttribute('aria-expanded', String(show));
      if (show) {
        open.add(d.id);
        void showDetail();
      } else open.delete(d.id);
    });
    if (open.has(d.id)) void showDetail();
    const redeliver = h(
      'button',
      {
        type: 'button',
        'data-key': `redeliver:${d.id}`,
        'aria-label': `Redeliver ${d.event} delivery created ${formatTime(d.created_at)}`,
      },
      'Redeliver',
    );
    redeliver.addEventListener('click', () => {
      redeliver.disabled = true;
      alert.textContent = '';
      api<Delivery>('POST', `${base}/deliveries/${d.id}/redeliver`)
        .then(async (x) => {
          note = `Redelivery of ${x.event} queued.`;
          say(note);
          await reload().catch(() => {});
          watch();
        })
        .catch((e: unknown) => {
          redeliver.disabled = false;
          alert.textContent = errorText(e);
        });
    });
    const main = row(
      d.event,
      h('span', { class: `delivery-status ${d.status}` }, d.status),
      String(d.attempts),
      d.last_status_code === null ? '—' : String(d.last_status_code),
      latency,
      formatTime(d.created_at),
      h('span', { class: 'inline-form' }, redeliver, toggle),
    );
    main.classList.add('delivery');
    main.dataset.deliveryId = d.id;
    return [main, detailRow];
  }

  let loading = 0;
  let pending = false;
  async function reload(): Promise<void> {
    const mine = ++loading;
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursors[pageNo]) params.set('cursor', cursors[pageNo]!);
    if (statusFilter) params.set('status', statusFilter);
    const page = await api<DeliveryPage>('GET', `${base}/deliveries?${params}`);
    if (mine !== loading) return;
    next = page.next_cursor;
    // Keyboard focus survives the redraw: the same button of the same delivery gets it back.
    const focused = (document.activeElement as HTMLElement | null)?.dataset.key;
    body.replaceChildren(
      table(
        ['Event', 'Status', 'Attempts', 'Last status code', 'Latency (last attempt)', 'Created', ''],
        page.items.flatMap(deliveryRows),
        pageNo
          ? 'No older deliveries.'
          : statusFilter
            ? `No ${statusFilter} deliveries.`
            : 'No deliveries yet. Send a test event to see one here.',
      ),
    );
    if (focused) body.querySelector<HTMLElement>(`[data-key="${focused}"]`)?.focus();
    newer.disabled = pageNo === 0;
    older.disabled = !next;
    say(
      note ??
        (page.items.length
          ? `Page ${pageNo + 1}: ${page.items.length} deliveries, newest first.`
          : 'No deliveries.'),
    );
    pending = page.items.some((d) => d.status === 'pending');
  }

  /** A load the reader asked for: what it shows replaces the last action's note. */
  const load = () => {
    alert.textContent = '';
    note = null;
    status.textContent = '';
    return reload().catch((e: unknown) => {
      alert.textContent = errorText(e);
    });
  };
  let polls = 0;
  let polling = false;
  /** Refreshes the newest page for a while, until nothing on it is pending or the section goes. */
  function watch(): void {
    polls = 0;
    if (!polling) tick();
  }
  function tick(): void {
    polling = true;
    setTimeout(() => {
      if (!body.isConnected || pageNo !== 0 || polls++ >= POLLS) {
        polling = false;
        return;
      }
      void reload()
        .catch(() => {})
        .then(() => {
          if (pending) tick();
          else polling = false;
        });
    }, POLL_MS);
  }

  refresh.addEventListener('click', () => void load());
  newer.addEventListener('click', () => {
    pageNo = Math.max(0, pageNo - 1);
    void load();
  });
  older.addEventListener('click', () => {
    if (!next) return;
    cursors[pageNo + 1] = next;
    pageNo += 1;
    void load();
  });
  filter.addEventListener('change', () => {
    statusFilter = filter.value;
    cursors.length = 1;
    pageNo = 0;
    void load();
  });

  const el = h(
    'section',
    { class: 'panel wide', 'aria-labelledby': 'wh-log-title' },
    h('h2', { id: 'wh-log-title' }, 'Delivery log'),
    h(
      'div',
      { class: 'inline-form' },
      h('label', { for: filterId }, 'Status'),
      filter,
      refresh,
      newer,
      older,
    ),
    status,
    alert,
    body,
  );
  return { el, reload: load, watch };
}
