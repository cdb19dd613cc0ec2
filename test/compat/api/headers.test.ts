import fc from 'fast-check';
import { parseItem } from 'structured-headers';
import { describe, expect, it } from 'vitest';
import { deprecatedAt, deprecationHeaders, guideLink, imfFixdate, sfDate } from '../../../src/compat/api/headers.js';
import { parseApiSpec, versionTimeline } from '../../../src/compat/api/spec.js';

/**
 * RFC 9110 §5.6.7, IMF-fixdate:
 *   IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT
 *   day-name    = %s"Mon" / %s"Tue" / %s"Wed" / %s"Thu" / %s"Fri" / %s"Sat" / %s"Sun"
 *   date1       = day SP month SP year ; day = 2DIGIT, year = 4DIGIT
 *   month       = %s"Jan" / %s"Feb" / … / %s"Dec"
 *   time-of-day = hour ":" minute ":" second ; 2DIGIT each, hour 00-23, minute 00-59, second 00-60
 *   GMT         = %s"GMT"
 */
const IMF_FIXDATE =
  /^(?<dayName>Mon|Tue|Wed|Thu|Fri|Sat|Sun), (?<day>\d{2}) (?<month>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?<year>\d{4}) (?<hour>\d{2}):(?<minute>\d{2}):(?<second>\d{2}) GMT$/;
const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 9651 §3.3.7: sf-date = "@" sf-integer; sf-integer = ["-"] 1*15DIGIT. */
const SF_DATE = /^@-?\d{1,15}$/;

/** Check `text` against the IMF-fixdate grammar and the calendar; returns the instant it names. */
function checkFixdate(text: string): number {
  const m = IMF_FIXDATE.exec(text);
  expect(m, text).not.toBeNull();
  const g = m?.groups as Record<string, string>;
  const d = new Date(0);
  d.setUTCFullYear(Number(g.year), MONTHS.indexOf(g.month as string), Number(g.day));
  d.setUTCHours(Number(g.hour), Number(g.minute), Number(g.second), 0);
  expect(Number(g.hour)).toBeLessThan(24);
  expect(Number(g.minute)).toBeLessThan(60);
  expect(Number(g.second)).toBeLessThan(61);
  expect(d.getUTCDate()).toBe(Number(g.day)); // a real day of that month
  expect(DAY_NAMES[d.getUTCDay()]).toBe(g.dayName); // the right day of the week
  return d.getTime();
}

const floorSecond = (d: Date) => Math.floor(d.getTime() / 1000) * 1000;

const instant = fc.date({ min: new Date('1971-01-01T00:00:00Z'), max: new Date('2200-12-31T23:59:59Z'), noInvalidDate: true });
const point = fc.oneof(
  fc.integer({ min: 0, max: 400 }).map((n) => `${n}d`),
  fc.integer({ min: 0, max: 5000 }).map((n) => `${n}h`),
  instant.map((d) => d.toISOString()),
);
const timeline = fc.record({ announce: point, log: point, respond: point, disable: point }, { requiredKeys: [] });

describe('deprecation headers', () => {
  it('sends Deprecation as an RFC 9651 sf-date equal to the announce time, and an IMF-fixdate Sunset never before it', () => {
    fc.assert(
      fc.property(fc.option(instant, { nil: null }), timeline, (released, t) => {
        const spec = parseApiSpec({ name: 'users', versions: [{ version: 'v1', timeline: t }, { version: 'v2' }], guide: 'https://example.com/guide' });
        const tl = versionTimeline(spec, 'v1', released, undefined);
        expect(tl).not.toBeNull();
        if (tl === null) return;
        const headers = deprecationHeaders(tl, spec.guide);
        const deprecated = deprecatedAt(tl);
        if (deprecated === null) {
          expect(headers).toBeUndefined();
          return;
        }
        if (headers === undefined) throw new Error('no headers for a known timeline');
        expect(headers.Deprecation).toMatch(SF_DATE);
        expect(headers.Deprecation).not.toBe('true');
        const [item] = parseItem(headers.Deprecation);
        expect(item).toBeInstanceOf(Date);
        expect((item as Date).getTime()).toBe(floorSecond(deprecated));
        if (tl.announce !== null) expect((item as Date).getTime()).toBe(floorSecond(tl.announce));
        if (tl.disable === null) expect(headers.Sunset).toBeUndefined();
        else {
          const sunset = checkFixdate(headers.Sunset as string);
          expect(sunset).toBe(floorSecond(tl.disable));
          expect(sunset).toBeGreaterThanOrEqual((item as Date).getTime());
        }
        expect(headers.Link).toBe('<https://example.com/guide>; rel="deprecation", <https://example.com/guide>; rel="sunset"');
      }),
      { numRuns: 500 },
    );
  });

  it('writes every instant of years 0000–9999 as an IMF-fixdate of the same second, and clamps the rest', () => {
    const min = new Date(0).setUTCFullYear(0, 0, 1);
    const max = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
    fc.assert(
      fc.property(fc.integer({ min, max }), (ms) => {
        const d = new Date(ms);
        expect(checkFixdate(imfFixdate(d))).toBe(floorSecond(d));
        expect(sfDate(d)).toMatch(SF_DATE);
        expect((parseItem(sfDate(d))[0] as Date).getTime()).toBe(floorSecond(d));
      }),
      { numRuns: 1000 },
    );
    expect(imfFixdate(new Date(max + 10 * 86_400_000))).toBe('Fri, 31 Dec 9999 23:59:59 GMT');
    expect(checkFixdate(imfFixdate(new Date(-1e15)))).toBe(min);
    expect(imfFixdate(new Date('1994-11-06T08:49:37.250Z'))).toBe('Sun, 06 Nov 1994 08:49:37 GMT'); // RFC 9110's own example
  });

  it('gives no headers while no point of the timeline is known, and a dated disable alone as both', () => {
    const spec = parseApiSpec({ name: 'users', versions: [{ version: 'v1' }, { version: 'v2' }] });
    const tl = versionTimeline(spec, 'v1', null);
    expect(tl && deprecationHeaders(tl)).toBeUndefined();
    const dated = parseApiSpec({ name: 'users', versions: [{ version: 'v1', timeline: { disable: '2027-03-01' } }, { version: 'v2' }] });
    const t2 = versionTimeline(dated, 'v1', null);
    expect(t2 && deprecationHeaders(t2)).toEqual({ Deprecation: '@1803859200', Sunset: 'Mon, 01 Mar 2027 00:00:00 GMT' });
  });

  it('refuses a timeline whose Sunset would come before Deprecation', () => {
    const t = { version: 'v1', announce: new Date('2027-01-02'), log: null, respond: null, disable: new Date('2027-01-01') };
    expect(() => deprecationHeaders(t)).toThrow(/before it is deprecated/);
  });

  it('links the guide once per relation type, its URL normalised', () => {
    expect(guideLink('https://example.com/a guide')).toBe('<https://example.com/a%20guide>; rel="deprecation", <https://example.com/a%20guide>; rel="sunset"');
  });
});
