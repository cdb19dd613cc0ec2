import { quoteIdent, quoteLiteral, quoteQualified } from '../db/quote.js';
import { boundedName } from './names.js';
import { dollarQuote } from './plpgsql.js';
import type { SyncTrigger } from './types.js';

/**
 * The sync trigger as ferry generated it before it compiled expressions
 * (src/operations/sync.ts): one `BEFORE INSERT OR UPDATE` trigger whose
 * function reads the row through a subquery. Kept for two reasons: a block
 * whose expressions cannot be compiled still runs in this form, and a step an
 * earlier ferry applied with this SQL is recognised as unedited
 * (`SqlPart.previous`, src/migration/op-compile.ts).
 */

/** The previous generation's one trigger on the table, and the function both generations name alike. */
export function legacyNames(s: Pick<SyncTrigger, 't' | 'key'>): { trigger: string; fn: string } {
  return { trigger: boundedName('ferry_sync', s.key), fn: quoteQualified(s.t.schema, boundedName('ferry_sync', s.t.name, s.key)) };
}

const rowOf = (prefix: string, cols: string[]) => `ROW(${cols.map((c) => `${prefix}.${quoteIdent(c)}`).join(', ')})`;

/** The FROM item the backward expressions of `s` read: every column of NEW, or only the columns `backwardColumns` maps. */
const backwardRow = (s: SyncTrigger) =>
  s.backwardColumns === undefined
    ? '(SELECT NEW.*)'
    : `(SELECT ${Object.entries(s.backwardColumns)
        .map(([name, stored]) => `NEW.${quoteIdent(stored)} AS ${quoteIdent(name)}`)
        .join(', ')})`;

/** One operation's block of the previous generation's trigger function (see `syncBlock` in src/operations/sync.ts for what it does). */
export function legacyBlock(s: SyncTrigger): string {
  const derived = `(SELECT ROW(${s.forward.map((f) => `CAST((${f.expr}) AS ${f.type})`).join(', ')}) FROM (SELECT NEW.*) AS r)`;
  const computeNew = `SELECT ${s.forward.map((f) => `(${f.expr})`).join(', ')} INTO ${s.forward.map((f) => `NEW.${quoteIdent(f.column)}`).join(', ')} FROM (SELECT NEW.*) AS r;`;
  const computeOld = `SELECT ${s.backward.map((b) => `(${b.expr})`).join(', ')} INTO ${s.backward.map((b) => `NEW.${quoteIdent(b.column)}`).join(', ')} FROM ${backwardRow(s)} AS r;`;
  return syncBranches(s, derived, computeNew, computeOld);
}

/**
 * The decision both generations share: which side of the row a write changed,
 * given how each generation derives the new row and computes either side.
 */
export function syncBranches(s: SyncTrigger, derived: string, computeNew: string, computeOld: string): string {
  const newCols = s.forward.map((f) => f.column);
  const fresh = rowOf('NEW', newCols);
  return `  IF TG_OP = 'INSERT' THEN
    IF ${fresh} IS NULL THEN
      ${computeNew}
    ELSIF ${fresh} IS DISTINCT FROM ${derived} THEN
      ${computeOld}
    END IF;
  ELSIF ${rowOf('NEW', s.oldColumns)} IS DISTINCT FROM ${rowOf('OLD', s.oldColumns)} THEN
    IF ${fresh} IS NOT DISTINCT FROM ${rowOf('OLD', newCols)} THEN
      ${computeNew}
    END IF;
  ELSIF ${fresh} IS DISTINCT FROM ${rowOf('OLD', newCols)} AND ${fresh} IS DISTINCT FROM ${derived} THEN
    ${computeOld}
  END IF;`;
}

/** The previous generation's trigger function running `blocks` in order. */
export function legacyFunction(s: Pick<SyncTrigger, 't' | 'key'>, blocks: SyncTrigger[], orReplace = false): string {
  const body = `
#variable_conflict use_column
BEGIN
${blocks.map(legacyBlock).join('\n')}
  RETURN NEW;
END
`;
  return `CREATE ${orReplace ? 'OR REPLACE ' : ''}FUNCTION ${legacyNames(s).fn}() RETURNS trigger LANGUAGE plpgsql AS ${dollarQuote(body)}`;
}

/** The previous generation's statements removing its trigger and function. */
export function legacyDropSync(s: Pick<SyncTrigger, 't' | 'key'>): string[] {
  const n = legacyNames(s);
  return [`DROP TRIGGER IF EXISTS ${quoteIdent(n.trigger)} ON ${s.t.sql}`, `DROP FUNCTION IF EXISTS ${n.fn}()`];
}

/** True when the previous generation's trigger is on the table and enabled. */
export const legacyTriggerExists = (s: Pick<SyncTrigger, 't' | 'key'>): string =>
  `EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = ${s.t.oid} AND tgname = ${quoteLiteral(legacyNames(s).trigger)} AND tgenabled <> 'D')`;

/** The previous generation's sync part statements: install, remove, check. */
export function legacySyncStatements(s: SyncTrigger): { forward: string[]; rollback: string[]; verify: string[] } {
  const n = legacyNames(s);
  return {
    forward: [legacyFunction(s, [s]), `CREATE TRIGGER ${quoteIdent(n.trigger)} BEFORE INSERT OR UPDATE ON ${s.t.sql} FOR EACH ROW EXECUTE FUNCTION ${n.fn}()`],
    rollback: legacyDropSync(s),
    verify: [`SELECT ${legacyTriggerExists(s)}`],
  };
}
