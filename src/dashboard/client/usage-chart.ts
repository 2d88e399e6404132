// One usage chart: a count per UTC day as bars (uPlot, bundled: the CSP allows no CDN; a chunk of
// its own, loaded the first time a chart is drawn, so the other sections don't carry it). It is
// drawn once its box has a width and redrawn to its box's width on every resize, so it reads at
// a phone's width as at a desktop's. The numbers themselves are in a table beside it.
import type uPlot from 'uplot';
import { h } from '../../inbox/client/dom.js';

export type DayChart = {
  /** The chart's box; the plot appears in it once the box is on the page. */
  el: HTMLElement;
  /** New days (`YYYY-MM-DD`, oldest first) and their counts. */
  update(days: string[], values: number[]): void;
  destroy(): void;
};

const HEIGHT = 180;
// Whole numbers only on the count axis: 1, 2, 5, 10, 20, 50, …
const COUNT_STEPS = Array.from({ length: 10 }, (_, i) => [1, 2, 5].map((m) => m * 10 ** i)).flat();
// Day steps on the day axis (the axis is the day's index: 0 is the oldest day shown).
const DAY_STEPS = [1, 2, 3, 7, 14, 28, 56];

const shortDay = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
const compact = new Intl.NumberFormat(undefined, { notation: 'compact' });

/** `2026-11-29` → "Nov 29" (the day is a UTC day, whatever the reader's zone). */
export const formatShortDay = (day: string) => shortDay.format(new Date(`${day}T00:00:00Z`));

function cssColor(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

export function dayChart(name: string): DayChart {
  const el = h('div', { class: 'usage-plot', role: 'img' });
  let days: string[] = [];
  let values: number[] = [];
  let plot: uPlot | null = null;
  const data = (): uPlot.AlignedData => [days.map((_, i) => i), values];

  let destroyed = false;
  let creating = false;
  async function create(width: number) {
    creating = true;
    const { default: UPlot } = await import('uplot');
    creating = false;
    if (destroyed) return;
    // The box may have been resized while uPlot was loading.
    width = Math.floor(el.getBoundingClientRect().width) || width;
    const ink = cssColor('--muted', '#52606d');
    const line = cssColor('--line', '#d9e2ec');
    const accent = cssColor('--accent', '#0b5cad');
    const dayAt = (i: number | null | undefined) => {
      const day = i == null ? undefined : days[Math.round(i)];
      return day ? formatShortDay(day) : '';
    };
    const opts: uPlot.Options = {
      width,
      height: HEIGHT,
      // Dragging would zoom, which a month of bars does not need.
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      legend: { live: true },
      scales: {
        x: { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] },
      },
      axes: [
        {
          stroke: ink,
          grid: { show: false },
          ticks: { stroke: line },
          incrs: DAY_STEPS,
          space: 56,
          values: (_u, splits) => splits.map((i) => dayAt(i)),
        },
        {
          stroke: ink,
          grid: { stroke: line, width: 1 },
          ticks: { show: false },
          incrs: COUNT_STEPS,
          space: 32,
          size: 44,
          values: (_u, splits) => splits.map((v) => compact.format(v)),
        },
      ],
      series: [
        { label: 'Day', value: (_u, i) => (i == null ? '–' : dayAt(i)) },
        {
          label: name,
          stroke: accent,
          fill: accent,
          width: 0,
          points: { show: false },
          paths: UPlot.paths.bars!({ size: [0.7, 48], align: 0 }),
          value: (_u, v) => (v == null ? '–' : v.toLocaleString()),
        },
      ],
    };
    plot = new UPlot(opts, data(), el);
  }

  // The first callback comes once the box is laid out on the page; later ones on every resize.
  const observer = new ResizeObserver((entries) => {
    const width = Math.floor(entries[0]?.contentRect.width ?? 0);
    if (width <= 0) return;
    if (!plot) {
      if (!creating) void create(width);
    } else if (width !== plot.width) plot.setSize({ width, height: HEIGHT });
  });
  observer.observe(el);

  return {
    el,
    update(nextDays, nextValues) {
      days = nextDays;
      values = nextValues;
      const total = values.reduce((a, b) => a + b, 0);
      el.setAttribute(
        'aria-label',
        `${name} per day, ${days.length} days: ${total.toLocaleString()} in all. The numbers are in the table below.`,
      );
      plot?.setData(data());
    },
    destroy() {
      destroyed = true;
      observer.disconnect();
      plot?.destroy();
      plot = null;
    },
  };
}
