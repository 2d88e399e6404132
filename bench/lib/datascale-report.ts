// The data-scale step's outputs: headline fields for the summary, lines for the text table, and
// its chart (p95 of every operation against the messages stored, both on log scales).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { OPS, OP_LABELS, TARGET_MS, TARGET_OPS, type DataScaleResult, type OpName } from './datascale.js';

const fmt = (v: unknown) => (v === null || v === undefined ? '–' : String(v));

/** The largest p95 among `ops` at the largest size (null: not measured). */
function worst(d: DataScaleResult, ops: OpName[]): number | null {
  const last = d.sizes.at(-1);
  const ps = ops.map((op) => last?.ops[op]?.p95_ms).filter((p): p is number => typeof p === 'number');
  return ps.length ? Math.max(...ps) : null;
}

/** Fields of the bench summary (all null without the step). */
export function dataScaleSummary(d: DataScaleResult | undefined) {
  return {
    datascale_messages: d?.sizes.at(-1)?.messages ?? null,
    datascale_list_p95_ms: d
      ? worst(
          d,
          TARGET_OPS.filter((op) => op.startsWith('list_')),
        )
      : null,
    datascale_history_p95_ms: d ? worst(d, ['history']) : null,
    datascale_unread_p95_ms: d ? worst(d, ['unread']) : null,
    datascale_search_p95_ms: d ? worst(d, ['search_text', 'search_name']) : null,
    datascale_under_20ms: d?.targets.under_20ms ?? null,
    datascale_growth_ok: d?.targets.growth_ok ?? null,
  };
}

/** Lines for the bench's text table. */
export function renderDataScaleTable(d: DataScaleResult): string[] {
  const rows: string[][] = [
    ['data scale: p50 / p95 ms', ...d.sizes.map((s) => `${s.messages} msgs / ${s.conversations} convs`)],
  ];
  for (const op of OPS) {
    rows.push([
      OP_LABELS[op],
      ...d.sizes.map((s) => {
        const o = s.ops[op];
        if (!o) return '–';
        const total = o.total_count !== undefined ? ` (${o.total_count})` : '';
        const errs = o.errors ? ` ${o.errors} err` : '';
        const sql = s.sql_ms?.[op] != null ? ` [sql ${s.sql_ms[op]}]` : '';
        return `${fmt(o.p50_ms)} / ${fmt(o.p95_ms)}${total}${sql}${errs}`;
      }),
    ]);
  }
  rows.push([
    'reference: GET /auth/me',
    ...d.sizes.map((s) => (s.reference ? `${fmt(s.reference.p50_ms)} / ${fmt(s.reference.p95_ms)}` : '–')),
  ]);
  rows.push(['seed / VACUUM ANALYZE s', ...d.sizes.map((s) => `${s.seed_s} / ${s.vacuum_s}`)]);
  rows.push(['database MB', ...d.sizes.map((s) => String(s.database_mb))]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  const line = (row: string[]) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ');
  const out = ['', line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  const t = d.targets;
  const grew = Object.entries(d.growth)
    .flatMap(([op, steps]) =>
      steps
        .filter((s) => !s.ok)
        .map((s) => `${op} p50 ×${s.p50_ratio} (${s.from}→${s.to}, reference ×${s.reference_ratio})`),
    )
    .join(', ');
  out.push(
    `data scale (list totals in parentheses, [sql: the statements' EXPLAIN ANALYZE time]; ${d.samples} samples per operation, list pages of ${d.list_limit}): list/history/unread p95 < ${TARGET_MS} ms at ${t.at_messages} messages: ${t.under_20ms ? 'yes' : 'no'} (slowest ${fmt(t.slowest_target_op)}); p50 growth ≤ log(n) past the first size, net of the reference's drift: ${t.growth_ok ? 'yes' : `no: ${grew}`}`,
  );
  for (const [what, e] of [
    ['slowest read', d.explain],
    ['slowest of list/history/unread', d.explain_target],
  ] as const) {
    if (!e) continue;
    out.push(
      `data scale: ${what} at ${e.messages} messages: ${e.op}, its slowest statement ${fmt(e.execution_ms)} ms (EXPLAIN ANALYZE in the JSON)`,
    );
  }
  if (d.chart) out.push(`data scale chart: ${d.chart}`);
  return out;
}

const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939']; // prettier-ignore
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** One line per operation: p95 (log scale) against messages stored (log scale), with the 20 ms target. */
export function renderDataScaleSvg(
  d: DataScaleResult,
  meta: { date: string; machine: Record<string, unknown> },
) {
  const W = 980;
  const H = 520;
  const pad = { l: 70, r: 300, t: 50, b: 60 };
  const pw = W - pad.l - pad.r;
  const ph = H - pad.t - pad.b;
  const parts: string[] = [];
  const text = (x: number, y: number, s: string, extra = '') =>
    parts.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${extra}>${esc(s)}</text>`);
  const xs = d.sizes.map((s) => s.messages);
  const ps = d.sizes
    .flatMap((s) => OPS.map((op) => s.ops[op]?.p95_ms ?? null))
    .filter((p): p is number => !!p);
  const xlo = Math.log10(Math.min(...xs)) - 0.15;
  const xhi = Math.log10(Math.max(...xs)) + 0.15;
  const ylo = Math.floor(Math.log10(Math.max(0.1, Math.min(TARGET_MS, ...ps))));
  const yhi = Math.ceil(Math.log10(Math.max(TARGET_MS * 2, ...ps)));
  const x = (m: number) => pad.l + ((Math.log10(m) - xlo) / (xhi - xlo || 1)) * pw;
  const y = (v: number) => pad.t + ph - ((Math.log10(Math.max(v, 10 ** ylo)) - ylo) / (yhi - ylo || 1)) * ph;
  parts.push(`<rect x="${pad.l}" y="${pad.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  text(
    pad.l,
    pad.t - 14,
    `Data scale: p95 per operation as the history grows (${d.tenants} tenants, the measured one holds half)`,
    'font-weight="bold"',
  );
  for (let e = ylo; e <= yhi; e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v < 10 ** ylo || v > 10 ** yhi) continue;
      parts.push(`<line x1="${pad.l}" y1="${y(v)}" x2="${pad.l + pw}" y2="${y(v)}" stroke="#eee"/>`);
      text(pad.l - 55, y(v) + 4, `${v < 1 ? v.toFixed(1) : v} ms`);
    }
  }
  for (const m of xs) {
    parts.push(`<line x1="${x(m)}" y1="${pad.t}" x2="${x(m)}" y2="${pad.t + ph}" stroke="#eee"/>`);
    const s = d.sizes.find((z) => z.messages === m)!;
    text(x(m) - 30, pad.t + ph + 16, `${m.toLocaleString('en')} msgs`);
    text(x(m) - 30, pad.t + ph + 30, `${s.conversations.toLocaleString('en')} convs`, 'fill="#666"');
  }
  parts.push(
    `<line x1="${pad.l}" y1="${y(TARGET_MS)}" x2="${pad.l + pw}" y2="${y(TARGET_MS)}" stroke="#000" stroke-dasharray="5,4"/>`,
  );
  text(pad.l + 4, y(TARGET_MS) - 4, `target ${TARGET_MS} ms (list, history, unread at 1M)`, 'fill="#333"');
  OPS.forEach((op, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = d.sizes
      .map((s) => [s.messages, s.ops[op]?.p95_ms ?? null] as const)
      .filter((p): p is readonly [number, number] => p[1] !== null);
    const dash = TARGET_OPS.includes(op) ? '' : ' stroke-dasharray="6,3"';
    if (pts.length) {
      parts.push(
        `<polyline points="${pts.map(([m, v]) => `${x(m).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`,
      );
      for (const [m, v] of pts)
        parts.push(`<circle cx="${x(m).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${color}"/>`);
    }
    const last = pts.at(-1)?.[1];
    text(pad.l + pw + 16, pad.t + 12 + i * 16, `${OP_LABELS[op]}: ${fmt(last)} ms`, `fill="${color}"`);
  });
  const m = meta.machine;
  text(
    pad.l,
    H - 8,
    `${meta.date} · ${String(m.cpus)} × ${String(m.cpu_model)} · ${d.samples} sequential requests per operation and size · dashed: no latency target`,
    'fill="#666"',
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
${parts.join('\n')}
</svg>
`;
}

/**
 * Writes the chart beside the bench's own (`latest-datascale.svg`, `quick-datascale.svg` with
 * --quick) and records its name in the result, so the JSON and the table point at it.
 */
export function writeDataScaleChart(
  r: { datascale?: DataScaleResult | undefined; date: string; machine: Record<string, unknown> },
  outDir: string,
  base: string,
) {
  if (!r.datascale) return;
  r.datascale.chart = `${base}-datascale.svg`;
  writeFileSync(path.join(outDir, r.datascale.chart), renderDataScaleSvg(r.datascale, r));
}
