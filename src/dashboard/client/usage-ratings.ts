// Dashboard → Usage → Ratings: how visitors rated resolved conversations over the period shown
// (`ratings` of `GET /api/organization/usage`): how many, the average and how many of each score.
import { h } from '../../inbox/client/dom.js';

export type RatingsSummary = {
  count: number;
  average: number | null;
  by_score: Record<'1' | '2' | '3' | '4' | '5', number>;
};

/** The ratings card; `show` draws the summary of a usage answer. */
export function ratingsCard() {
  const summary = h('p', { class: 'usage-total' });
  const bars = h('ul', { class: 'rating-bars' });
  const el = h(
    'article',
    { class: 'usage-ratings', 'aria-labelledby': 'usage-ratings-h', 'data-metric': 'ratings' },
    h('h3', { id: 'usage-ratings-h' }, 'Ratings'),
    summary,
    h('p', { class: 'muted' }, 'Stars visitors gave after an agent resolved their conversation.'),
    bars,
  );
  return {
    el,
    show(data: { days: unknown[]; ratings?: RatingsSummary }) {
      const r = data.ratings ?? { count: 0, average: null, by_score: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 } };
      summary.textContent =
        r.count && r.average !== null
          ? `★ ${r.average.toFixed(1)} average · ${r.count.toLocaleString()} rating${r.count === 1 ? '' : 's'} in the last ${data.days.length} days`
          : `No ratings in the last ${data.days.length} days`;
      bars.replaceChildren(
        ...(['5', '4', '3', '2', '1'] as const).map((s) => {
          const count = r.by_score[s];
          const meter = h('meter', {
            min: 0,
            max: Math.max(r.count, 1),
            value: count,
            'aria-label': `${s} stars`,
          });
          return h(
            'li',
            {},
            h('span', { class: 'rating-score' }, `${s} ★`),
            meter,
            h('span', {}, count.toLocaleString()),
          );
        }),
      );
    },
  };
}
