import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_GUIDANCE, guidanceLines, guidanceOf, TRANSITION_GUIDE } from '../../src/workflow/app-guidance.js';
import { PHASES, TRANSITIONS } from '../../src/workflow/lifecycle.js';
import { lifecycleSections, withLifecycleSections } from '../../src/workflow/lifecycle-doc.js';

const PAGE = resolve(import.meta.dirname, '../../docs/lifecycle.md');
const page = () => readFileSync(PAGE, 'utf8');

describe('docs/lifecycle.md and src/workflow/app-guidance.ts', () => {
  it('the page carries exactly the transition and app-guidance tables the module generates (run `npm run docs:generate` when this fails)', () => {
    const text = page();
    expect(withLifecycleSections(text)).toBe(text);
    for (const table of Object.values(lifecycleSections())) expect(text).toContain(table);
  });

  it('a guidance line the page does not show makes the page stale', () => {
    const text = page();
    const edited = text.replace(APP_GUIDANCE.verified.before, 'before contract: nothing');
    expect(edited).not.toBe(text);
    expect(withLifecycleSections(edited)).toBe(text);
    expect(() => withLifecycleSections(text.replace('<!-- /generated:app-guidance -->', ''))).toThrow(/no <!-- generated:app-guidance -->/);
  });

  it('every phase has guidance and every transition of the table says who moves it and its gate', () => {
    expect(Object.keys(APP_GUIDANCE).sort()).toEqual([...PHASES].sort());
    for (const p of PHASES) for (const v of Object.values(APP_GUIDANCE[p])) expect(v.length, p).toBeGreaterThan(0);
    for (const t of TRANSITIONS) expect(TRANSITION_GUIDE[t.action], t.action).toBeDefined();
    const text = page();
    for (const p of PHASES) expect(text).toContain(`| \`${p}\` |`);
  });

  it('old-shape readers are allowed until contract, and cleanup needs the new path hard-coded or the graduated flag', () => {
    expect(APP_GUIDANCE.verified.before).toMatch(/^before contract: stop old-shape writers and readers/);
    expect(APP_GUIDANCE['rolled-out'].apps).toContain('old-shape readers and writers still work');
    expect(APP_GUIDANCE.contracted.now).toContain('flag graduated');
    expect(APP_GUIDANCE.contracted.before).toMatch(/^before cleanup: hard-code the new path/);
    expect(APP_GUIDANCE.expanded.apps).toContain('`ferry_v2_<table>`');
  });

  it('the CLI line is "now: …; next gate: …; before …" with the migration id filled in', () => {
    const g = guidanceOf('verified', '0002_split');
    expect(g.nextGate).toContain('`ferry contract 0002_split`');
    const [first, second] = guidanceLines(g);
    expect(first).toBe(`now: ${g.now}; next gate: ${g.nextGate}; ${g.before}`);
    expect(second).toBe(`apps: ${g.apps}`);
    expect(guidanceOf(null, 'x').phase).toBe('planned');
    expect(guidanceLines(guidanceOf('archived', 'x'))[0]).not.toContain('; —');
  });
});
