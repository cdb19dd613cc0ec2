import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { ensureState } from '../../src/state/store.js';
import { ensureVerifyState } from '../../src/verify/state.js';
import { forEachDriver } from '../helpers/databases.js';

/*
 * Keeps the docs honest where that is cheap: every `ferry <command> …` written in
 * README.md and docs/*.md (code spans and code blocks) names a command, subcommand,
 * choice and options the CLI has, every bare `--option` is an option of some
 * command, and every `ferry.<table>` the docs name exists in ferry's state schema.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).flatMap((f) => (f.endsWith('.md') ? [`docs/${f}`] : []))];

/** Other programs whose options the docs quote (`pg_dump --schema-only`, `tsc --noEmit`): not ferry's to check. */
const OTHER_PROGRAMS = new Set(['pg_dump', 'pg_restore', 'psql', 'tsc', 'npm', 'npx', 'node', 'dbmate', 'vitest', 'git']);

/** One piece of code in a document: an inline code span or one line of a code block. */
interface Code {
  file: string;
  line: number;
  text: string;
}

/** Inline code spans and code-block lines of a Markdown file (table cells' `\|` read as `|`). */
function codeOf(file: string): Code[] {
  const out: Code[] = [];
  let fenced = false;
  readFileSync(join(ROOT, file), 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      if (/^\s*```/.test(raw)) {
        fenced = !fenced;
        return;
      }
      const line = raw.replace(/\\\|/g, '|');
      if (fenced) out.push({ file, line: i + 1, text: line });
      else for (const m of line.matchAll(/`([^`]+)`/g)) out.push({ file, line: i + 1, text: m[1] as string });
    });
  return out;
}

/** Shell-like words: quotes group, separators (`&&`, `;`, `|`, `>`, `·`, a `#` comment) end a command. */
function words(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/"[^"]*"|'[^']*'|(\S+)/g)) {
    const w = m[0];
    if (m[1] !== undefined && w.startsWith('#')) break;
    out.push(m[1] !== undefined && /^(&&|;|\||>|·)$/.test(w) ? '\n' : w);
  }
  return out;
}

const OPTION = /--[a-zA-Z][a-zA-Z0-9-]*/g;
const isPlaceholder = (w: string) => /^[[<({…]|^[A-Z_]+\]?$|\.\.\.|…/.test(w);

/** One `ferry …` invocation found in the docs. */
interface Invocation {
  at: string;
  command: string;
  /** Positional words after the command, in order (placeholders included). */
  positionals: string[];
  options: string[];
}

/** Every `ferry <command> …` in a piece of code; `ferry` may be spelled `npx ferry` or `bin/ferry.js`. */
function invocations(code: Code, takesValue: (command: string, option: string) => boolean): Invocation[] {
  const out: Invocation[] = [];
  const ws = words(code.text);
  ws.forEach((w, i) => {
    const command = ws[i + 1];
    if (!/^(?:.*\/)?ferry(?:\.js)?$/.test(w) || command === undefined || !/^[a-z][a-z-]*$/.test(command)) return;
    const inv: Invocation = { at: `${code.file}:${code.line} \`${code.text}\``, command, positionals: [], options: [] };
    for (let j = i + 2; j < ws.length && ws[j] !== '\n' && !/^(?:.*\/)?ferry(?:\.js)?$/.test(ws[j] as string); j++) {
      const word = ws[j] as string;
      const options = word.replace(/=.*$/, '').match(OPTION) ?? [];
      if (options.length === 0) {
        inv.positionals.push(word);
        continue;
      }
      inv.options.push(...options);
      const last = options.at(-1) as string;
      if (!word.includes('=') && !word.endsWith(']') && takesValue(command, last)) j++;
    }
    out.push(inv);
  });
  return out;
}

const program = buildProgram();
const find = (parent: Command, name: string) => parent.commands.find((c) => c.name() === name || c.aliases().includes(name));
const longOptions = (c: Command) => c.options.flatMap((o) => (o.long ? [o.long] : []));
const GLOBAL = new Set([...longOptions(program), '--help']);
const EVERY_OPTION = new Set([...GLOBAL, ...program.commands.flatMap((c) => [c, ...c.commands]).flatMap(longOptions)]);

function optionOf(command: string, option: string) {
  const c = find(program, command);
  return [c, ...(c?.commands ?? []), program].flatMap((x) => x?.options ?? []).find((o) => o.long === option);
}
const takesValue = (command: string, option: string) => Boolean(optionOf(command, option)?.required || optionOf(command, option)?.optional);

const code = DOCS.flatMap(codeOf);
const calls = code.flatMap((c) => invocations(c, takesValue));

/** What is wrong with one invocation against the CLI's command tree, or nothing. */
function problemsOf(inv: Invocation): string[] {
  const cmd = find(program, inv.command);
  if (!cmd) return [`${inv.at}: no command "ferry ${inv.command}"`];
  const problems: string[] = [];
  let target = cmd;
  let positionals = inv.positionals;
  if (cmd.commands.length > 0) {
    const [word, ...rest] = positionals;
    // `ferry ticket create|list|close` names several at once.
    const names = word === undefined || isPlaceholder(word) ? [] : word.split('|');
    for (const n of names) if (!find(cmd, n)) problems.push(`${inv.at}: "ferry ${inv.command}" has no subcommand "${n}"`);
    const sub = names.length === 1 ? find(cmd, names[0] as string) : undefined;
    if (sub) target = sub;
    positionals = rest;
  }
  target.registeredArguments.forEach((arg, i) => {
    const word = positionals[i];
    const choices = arg.argChoices;
    if (!choices || word === undefined || isPlaceholder(word)) return;
    for (const w of word.split('|')) if (!choices.includes(w)) problems.push(`${inv.at}: "${w}" is not a choice of <${arg.name()}> (${choices.join(', ')})`);
  });
  const known = new Set([...longOptions(target), ...(target === cmd ? [] : longOptions(cmd)), ...GLOBAL]);
  for (const o of inv.options) if (!known.has(o)) problems.push(`${inv.at}: "ferry ${inv.command}" has no option ${o}`);
  return problems;
}

describe('the docs name commands and options the CLI has', () => {
  it('finds the invocations it checks (the parser reads the docs)', () => {
    const named = new Set(calls.map((c) => c.command));
    for (const command of ['up', 'down', 'verify', 'backfill', 'rollout', 'flag', 'health', 'lint', 'cleanup']) expect(named).toContain(command);
    expect(calls.length).toBeGreaterThan(100);
  });

  it('every `ferry <command> …` in README.md and docs/*.md exists, with its subcommand, choices and options', () => {
    expect(calls.flatMap(problemsOf)).toEqual([]);
  });

  it('every bare `--option` in a code span is an option of some ferry command', () => {
    const stray = code
      .filter((c) => !OTHER_PROGRAMS.has(words(c.text)[0] ?? '') && invocations(c, takesValue).length === 0)
      .flatMap((c) => (c.text.match(OPTION) ?? []).filter((o) => !EVERY_OPTION.has(o)).map((o) => `${c.file}:${c.line} \`${c.text}\`: ${o}`));
    expect(stray).toEqual([]);
  });

  it('rejects what the CLI does not have, so the checks above can fail', () => {
    const probe = (text: string) => invocations({ file: 'probe.md', line: 1, text }, takesValue).flatMap(problemsOf);
    expect(probe('ferry nosuch --json')).toEqual(['probe.md:1 `ferry nosuch --json`: no command "ferry nosuch"']);
    expect(probe('ferry up --no-such-flag')).toEqual(['probe.md:1 `ferry up --no-such-flag`: "ferry up" has no option --no-such-flag']);
    expect(probe('ferry flag toggle x')).toEqual(['probe.md:1 `ferry flag toggle x`: "ferry flag" has no subcommand "toggle"']);
    expect(probe('ferry ticket create|open')).toEqual(['probe.md:1 `ferry ticket create|open`: "ferry ticket" has no subcommand "open"']);
    expect(probe('ferry rollout x jump 5')).toHaveLength(1);
    expect(probe('ferry backfill x --step fill --workers 4 && ferry flag get k --unit u-1')).toEqual([]);
  });
});

/** `ferry.<name>` in the docs: a table, view or function of schema ferry (`ferry.config.json` and the like are files). */
const stateNames = [
  ...new Set(code.flatMap((c) => [...c.text.matchAll(/\bferry\.([a-z_]+)\b(?!\.)/g)].map((m) => m[1] as string)).filter((n) => !['js', 'config'].includes(n))),
];

forEachDriver('the state objects the docs name', (suite) => {
  it('every `ferry.<name>` in README.md and docs/*.md exists in schema ferry', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await ensureState(db);
      await ensureVerifyState(db);
      const { rows } = await db.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'ferry'
         UNION SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'ferry'`,
      );
      const present = new Set(rows.map((r) => r.name));
      expect(stateNames.length).toBeGreaterThan(10);
      expect(stateNames.filter((n) => !present.has(n))).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
