import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { businessHoursSchema, isOpen, type BusinessHours } from './hours.js';

const paris: BusinessHours = {
  time_zone: 'Europe/Paris',
  days: {
    mon: [['09:00', '18:00']],
    tue: [['09:00', '18:00']],
    wed: [['09:00', '18:00']],
    thu: [['09:00', '18:00']],
    fri: [
      ['09:00', '12:00'],
      ['14:00', '18:00'],
    ],
    sat: [['22:00', '24:00']],
    sun: [
      ['00:00', '02:00'],
      ['02:30', '03:30'],
    ],
  },
};
const at = (iso: string) => new Date(iso);

describe('isOpen', () => {
  test('no business hours: always open', () => {
    assert.equal(isOpen(null, at('2026-11-29T03:00:00Z')), true);
  });

  test('a range includes its start and excludes its end, on the zone’s wall clock', () => {
    // Winter: Paris is UTC+1. Monday 30 November 2026.
    assert.equal(isOpen(paris, at('2026-11-30T07:59:59Z')), false);
    assert.equal(isOpen(paris, at('2026-11-30T08:00:00Z')), true);
    assert.equal(isOpen(paris, at('2026-11-30T16:59:00Z')), true);
    assert.equal(isOpen(paris, at('2026-11-30T17:00:00Z')), false);
  });

  test('the lunch break between two ranges is closed', () => {
    assert.equal(isOpen(paris, at('2026-12-04T10:00:00Z')), true);
    assert.equal(isOpen(paris, at('2026-12-04T12:00:00Z')), false);
    assert.equal(isOpen(paris, at('2026-12-04T13:00:00Z')), true);
  });

  test('around midnight: 24:00 ends Saturday, Sunday opens at 00:00 (and a day without ranges is closed)', () => {
    assert.equal(isOpen(paris, at('2026-12-05T22:59:00Z')), true); // Sat 23:59 Paris
    assert.equal(isOpen(paris, at('2026-12-05T23:00:00Z')), true); // Sun 00:00 Paris
    assert.equal(isOpen(paris, at('2026-12-06T01:00:00Z')), false); // Sun 02:00 Paris
    const noSunday = { ...paris, days: { ...paris.days, sun: [] } };
    assert.equal(isOpen(noSunday, at('2026-12-05T23:00:00Z')), false);
    // The same instant is Saturday in New York (18:00): closed there.
    assert.equal(isOpen({ ...paris, time_zone: 'America/New_York' }, at('2026-12-05T23:00:00Z')), false);
  });

  test('daylight saving: ranges keep their local hours when the clocks change', () => {
    // Summer: Paris is UTC+2, so 09:00 local is 07:00 UTC.
    assert.equal(isOpen(paris, at('2026-06-01T07:00:00Z')), true);
    assert.equal(isOpen(paris, at('2026-06-01T06:59:00Z')), false);
    assert.equal(isOpen(paris, at('2026-06-01T16:00:00Z')), false); // 18:00 local
    // Sunday 29 March 2026: 02:00 local does not exist, clocks jump from 01:59 to 03:00.
    assert.equal(isOpen(paris, at('2026-03-29T00:59:00Z')), true); // 01:59 CET, in 00:00–02:00
    assert.equal(isOpen(paris, at('2026-03-29T01:00:00Z')), true); // 03:00 CEST, in 02:30–03:30
    assert.equal(isOpen(paris, at('2026-03-29T01:30:00Z')), false); // 03:30 CEST (on CET it would be 02:30: open)
    // Sunday 25 October 2026, 02:00–03:00 local happens twice: both of 02:45 are in 02:30–03:30.
    assert.equal(isOpen(paris, at('2026-10-25T00:45:00Z')), true); // 02:45 CEST
    assert.equal(isOpen(paris, at('2026-10-25T01:45:00Z')), true); // 02:45 CET
    assert.equal(isOpen(paris, at('2026-10-25T02:30:00Z')), false); // 03:30 CET
  });
});

describe('businessHoursSchema', () => {
  const errors = (v: unknown) => businessHoursSchema.safeParse(v).error?.issues.map((i) => i.message) ?? [];

  test('takes a valid week', () => {
    assert.deepEqual(errors(paris), []);
  });

  test('refuses an unknown time zone, bad times, backwards and overlapping ranges', () => {
    assert.match(errors({ time_zone: 'Mars/Olympus', days: {} }).join(), /IANA time zone/);
    assert.match(
      errors({ time_zone: 'UTC', days: { mon: [['9:00', '18:00']] } }).join(),
      /time such as 09:00/,
    );
    assert.match(errors({ time_zone: 'UTC', days: { mon: [['18:00', '09:00']] } }).join(), /start before/);
    assert.match(
      errors({
        time_zone: 'UTC',
        days: {
          mon: [
            ['09:00', '12:00'],
            ['11:00', '13:00'],
          ],
        },
      }).join(),
      /overlap/,
    );
    assert.match(errors({ time_zone: 'UTC', days: { funday: [] } }).join(), /nrecognized/);
    assert.deepEqual(
      errors({
        time_zone: 'UTC',
        days: {
          mon: [
            ['12:00', '14:00'],
            ['09:00', '12:00'],
          ],
        },
      }),
      [],
    );
  });
});
