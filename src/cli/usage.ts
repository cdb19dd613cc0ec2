import type { Command, CommanderError, Option } from 'commander';
import { FerryError } from '../errors.js';

/** Whether the command line asks for JSON output, read from the raw arguments so even a line commander refuses gets its JSON error document. */
export function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).includes('--json');
}

/** `ferry flag set` for a command of the tree. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function optionOf(cmd: Command, token: string): Option | 'flag' | undefined {
  if (token === '--help' || token === '-h') return 'flag';
  for (let c: Command | null = cmd; c; c = c.parent) {
    const o = c.options.find((x) => x.long === token || x.short === token);
    if (o) return o;
  }
  return undefined;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] as number;
}

function unknownCommand(parent: Command, name: string): FerryError {
  const names = parent.commands.map((c) => c.name());
  const close = names.filter((n) => n.startsWith(name) || distance(n, name) <= Math.min(2, Math.floor(n.length / 3)));
  const path = commandPath(parent);
  const suggestion = close.length ? ` (did you mean ${close.map((n) => `\`${path} ${n}\``).join(' or ')}?)` : '';
  return new FerryError('E_USAGE', `unknown command '${name}'${suggestion}`, `run \`${path} --help\` for the commands: ${names.join(', ')}`);
}

/**
 * An unknown command anywhere in the arguments — `ferry nosuch`, `ferry nosuch --help`,
 * `ferry help nosuch`, `ferry flag nosuch` — as a usage error; undefined when every
 * command word is known (commander then parses the rest). Checked before parsing,
 * because commander would print the parent's help for `--help` instead.
 */
export function unknownCommandIn(program: Command, args: readonly string[]): FerryError | undefined {
  let cmd = program;
  for (let i = 0; i < args.length; i++) {
    const token = args[i] as string;
    if (token === '--') return undefined;
    if (token.startsWith('-') && token !== '-') {
      if (token.includes('=')) continue;
      const o = optionOf(cmd, token);
      if (o === undefined) return undefined; // commander names the unknown option
      const next = args[i + 1];
      if (o !== 'flag' && (o.required || (o.optional && next !== undefined && !next.startsWith('-')))) i++;
      continue;
    }
    if (cmd.commands.length === 0) return undefined;
    const sub = (name: string) => cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
    if (token === 'help' && !sub('help')) {
      const target = args.slice(i + 1).find((a) => !a.startsWith('-'));
      return target === undefined || sub(target) ? undefined : unknownCommand(cmd, target);
    }
    const next = sub(token);
    if (!next) return unknownCommand(cmd, token);
    cmd = next;
  }
  return undefined;
}

/** A usage error commander raised, as the documented error: `E_USAGE` with commander's message and the command's help as the fix. */
export function usageErrorOf(err: CommanderError, cmd: Command | undefined): FerryError {
  const path = cmd ? commandPath(cmd) : 'ferry';
  if (err.code === 'commander.help') {
    const subs = cmd?.commands.map((c) => c.name()) ?? [];
    return new FerryError('E_USAGE', `${path} needs a command${subs.length ? `: ${subs.join(', ')}` : ''}`, `run \`${path} --help\` for usage`);
  }
  return new FerryError('E_USAGE', err.message.replace(/^error: /, ''), `run \`${path} --help\` for usage`);
}
