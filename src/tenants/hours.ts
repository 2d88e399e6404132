import { z } from 'zod';

/** The days of a week, as business hours name them (ISO order: Monday first). */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** `HH:MM` on a 24-hour clock; `24:00` ends a range at midnight. */
const HHMM = /^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$/;

/** Minutes since midnight of a valid `HH:MM`. */
const minutesOf = (hhmm: string): number => {
  const m = HHMM.exec(hhmm);
  return m ? Number(m[1] ?? m[3]) * 60 + Number(m[2] ?? m[4]) : NaN;
};

/** Whether `zone` is a time zone this runtime knows (an IANA name such as `Europe/Paris`). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const time = z.string({ error: 'must be a time such as 09:00' }).regex(HHMM, 'must be a time such as 09:00');

/** One opening range of a day, `['09:00', '18:00']`: it starts before it ends. */
const range = z
  .tuple([time, time], { error: 'must be a range such as ["09:00", "18:00"]' })
  .refine(([from, to]) => !(minutesOf(from) >= minutesOf(to)), { message: 'must start before it ends' });

/** A day's ranges, in any order, not overlapping (touching is fine: 12:00–14:00 then 14:00–18:00). */
const dayRanges = z
  .array(range)
  .max(12, 'must be at most 12 ranges a day')
  .superRefine((ranges, ctx) => {
    const sorted = ranges.map(([a, b]) => [minutesOf(a), minutesOf(b)] as const).sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]![0] < sorted[i - 1]![1]) {
        ctx.addIssue({ code: 'custom', message: 'ranges must not overlap' });
        return;
      }
    }
  });

/**
 * A tenant's business hours (`config.business_hours`): the time zone their clocks are in and, per
 * day, the ranges they are open; a day left out (or `[]`) is closed. `null` is always open.
 */
export const businessHoursSchema = z.strictObject({
  time_zone: z
    .string({ error: 'must be a time zone such as Europe/Paris' })
    .trim()
    .min(1, 'must be a time zone such as Europe/Paris')
    .max(64)
    .refine(isTimeZone, { message: 'must be an IANA time zone such as Europe/Paris' }),
  days: z.strictObject(
    Object.fromEntries(WEEKDAYS.map((d) => [d, dayRanges.optional()])) as Record<
      Weekday,
      z.ZodOptional<typeof dayRanges>
    >,
  ),
});
export type BusinessHours = z.infer<typeof businessHoursSchema>;

/** The stored value if it is valid business hours; `null` (always open) otherwise. */
export function businessHoursOf(value: unknown): BusinessHours | null {
  const parsed = businessHoursSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const formatterFor = (zone: string) => {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(zone, f);
  }
  return f;
};

/** The weekday and minute of the day that `now` is on the clocks of `zone`. */
export function wallClock(zone: string, now: Date): { day: Weekday; minute: number } {
  const parts = formatterFor(zone).formatToParts(now);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const day = get('weekday').slice(0, 3).toLowerCase() as Weekday;
  return { day, minute: (Number(get('hour')) % 24) * 60 + Number(get('minute')) };
}

/**
 * Whether the tenant is open at `now`: on the wall clock of its time zone (so a range keeps its
 * local hours across daylight-saving changes), a range includes its start and excludes its end.
 * No business hours: always open.
 */
export function isOpen(hours: BusinessHours | null, now: Date): boolean {
  if (!hours) return true;
  const { day, minute } = wallClock(hours.time_zone, now);
  return (hours.days[day] ?? []).some(([from, to]) => minutesOf(from) <= minute && minute < minutesOf(to));
}
