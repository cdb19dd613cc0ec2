import { guidanceTable, transitionTable } from './app-guidance.js';

/** The generated sections of docs/lifecycle.md, by marker name, from src/workflow/app-guidance.ts. */
export function lifecycleSections(): Record<string, string> {
  return { transitions: transitionTable(), 'app-guidance': guidanceTable() };
}

/**
 * `text` (docs/lifecycle.md) with every section between `<!-- generated:NAME -->`
 * and `<!-- /generated:NAME -->` replaced by what the module says now. A marker
 * left out of the text is an error, so the page cannot silently lose a table.
 */
export function withLifecycleSections(text: string): string {
  let out = text;
  for (const [name, body] of Object.entries(lifecycleSections())) {
    const start = `<!-- generated:${name} -->`;
    const end = `<!-- /generated:${name} -->`;
    const a = out.indexOf(start);
    const b = out.indexOf(end);
    if (a < 0 || b < a) throw new Error(`docs/lifecycle.md has no ${start} … ${end} section`);
    out = `${out.slice(0, a + start.length)}\n${body}\n${out.slice(b)}`;
  }
  return out;
}
