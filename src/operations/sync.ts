import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { boundedName } from './names.js';
import { doBlock, dollarQuote } from './plpgsql.js';
import { type CompiledExpression, compileExpression } from './sync-expr.js';
import { legacyBlock, legacyDropSync, legacyNames, legacySyncStatements, legacyTriggerExists, syncBranches } from './sync-legacy.js';
import type { SqlPart, SyncTrigger } from './types.js';

/**
 * The sync trigger of a table in the expand phase, built so writers pay for
 * it only when they write a shape: an INSERT trigger, and an UPDATE trigger
 * that fires only for statements naming a column of either shape (`UPDATE OF`),
 * whose expressions read `NEW."column"` directly. No `WHEN (OLD … IS DISTINCT
 * FROM NEW …)`: PostgreSQL prepares a trigger's WHEN anew for every statement,
 * which costs a single-row UPDATE more (~14 µs measured) than running the
 * function's own checks (~3 µs) when the row did not change.
 */

/**
 * The names of the sync triggers and their function: `ferry_sync_<key>_insert`
 * and `ferry_sync_<key>_update` on the table, `<schema>.ferry_sync_<table>_<key>`;
 * `trigger` is the one trigger an earlier ferry installed, which every drop removes too.
 * Named after it, they fire where it did among the table's other BEFORE triggers (in name order).
 */
export function syncNames(s: Pick<SyncTrigger, 't' | 'key'>): { insert: string; update: string; trigger: string; fn: string } {
  const legacy = legacyNames(s);
  return { insert: boundedName('ferry_sync', s.key, 'insert'), update: boundedName('ferry_sync', s.key, 'update'), ...legacy };
}

/**
 * Assign `targets` their expressions. Today's form computes every target from
 * the row before any is assigned; `:=` one after the other means the same
 * only when no expression reads a target, else one SELECT … INTO (no FROM).
 */
function assign(targets: string[], exprs: CompiledExpression[]): string {
  const into = targets.map((c) => `NEW.${quoteIdent(c)}`);
  if (exprs.some((e) => e.reads.some((c) => targets.includes(c)))) return `SELECT ${exprs.map((e) => `(${e.sql})`).join(', ')} INTO ${into.join(', ')};`;
  return into.map((t, i) => `${t} := (${exprs[i]?.sql});`).join(' ');
}

const compiledAll = (exprs: string[], columns?: ReadonlyMap<string, string>) => {
  const out = exprs.map((e) => compileExpression(e, columns));
  return out.every((c) => c !== undefined) ? (out as CompiledExpression[]) : undefined;
};

/**
 * One operation's block of the trigger function. A write of the old shape only
 * (INSERT with no new column set, UPDATE changing only old columns) recomputes
 * the new columns; a write of the new shape only recomputes the old ones —
 * unless the new values already are what the old ones give, as a backfill
 * writes them, so a lossy round trip never rewrites the old data. A block
 * whose expressions cannot be compiled runs in the previous form (src/operations/sync-legacy.ts).
 */
export function syncBlock(s: SyncTrigger): string {
  const forward = compiledAll(s.forward.map((f) => f.expr));
  const backward = compiledAll(
    s.backward.map((b) => b.expr),
    s.backwardColumns && new Map(Object.entries(s.backwardColumns)),
  );
  if (!forward || !backward) return legacyBlock(s);
  const newCols = s.forward.map((f) => f.column);
  const derived = `ROW(${s.forward.map((f, i) => `CAST((${forward[i]?.sql}) AS ${f.type})`).join(', ')})`;
  const computeNew = assign(newCols, forward);
  const computeOld = assign(
    s.backward.map((b) => b.column),
    backward,
  );
  return syncBranches(s, derived, computeNew, computeOld);
}

/**
 * The trigger function named after `s`, running the block of each of `blocks`
 * in order (one block per operation keeping columns of the table in sync).
 */
export function syncFunction(s: Pick<SyncTrigger, 't' | 'key'>, blocks: SyncTrigger[], orReplace = false): string {
  const text = blocks.map(syncBlock);
  // Only a block left in the subquery form has both columns and variables in scope.
  const conflict = blocks.some((b, i) => text[i] === legacyBlock(b)) ? '\n#variable_conflict use_column' : '';
  const body = `${conflict}
BEGIN
${text.join('\n')}
  RETURN NEW;
END
`;
  return `CREATE ${orReplace ? 'OR REPLACE ' : ''}FUNCTION ${syncNames(s).fn}() RETURNS trigger LANGUAGE plpgsql AS ${dollarQuote(body)}`;
}

/** Every column of either shape that `blocks` read or write: a write changing none of them leaves every block a no-op. */
export function shapeColumns(blocks: SyncTrigger[]): string[] {
  return [...new Set(blocks.flatMap((b) => [...b.oldColumns, ...b.forward.map((f) => f.column), ...b.backward.map((b2) => b2.column)]))];
}

/** `CREATE TRIGGER` of the UPDATE trigger of `blocks`, firing only for statements that set a shape column. */
export function updateTrigger(s: Pick<SyncTrigger, 't' | 'key'>, blocks: SyncTrigger[]): string {
  const n = syncNames(s);
  return `CREATE TRIGGER ${quoteIdent(n.update)} BEFORE UPDATE OF ${shapeColumns(blocks).map(quoteIdent).join(', ')} ON ${s.t.sql} FOR EACH ROW EXECUTE FUNCTION ${n.fn}()`;
}

/**
 * Make the UPDATE trigger cover `blocks` (composition adds a block to the
 * function). Where an earlier ferry's one trigger still runs the function,
 * it already fires on every update: adding a trigger would run it twice, and
 * that ferry's recorded rollback could no longer drop the function.
 */
export function replaceUpdateTrigger(s: Pick<SyncTrigger, 't' | 'key'>, blocks: SyncTrigger[]): string {
  return doBlock(`  IF NOT ${legacyTriggerExists(s)} THEN
    DROP TRIGGER IF EXISTS ${quoteIdent(syncNames(s).update)} ON ${s.t.sql};
    ${updateTrigger(s, blocks)};
  END IF;`);
}

/** Statements removing the sync triggers (of this ferry or an earlier one) and their function. */
export function dropSync(s: Pick<SyncTrigger, 't' | 'key'>): string[] {
  const n = syncNames(s);
  return [...[n.update, n.insert, n.trigger].map((name) => `DROP TRIGGER IF EXISTS ${quoteIdent(name)} ON ${s.t.sql}`), `DROP FUNCTION IF EXISTS ${n.fn}()`];
}

/** True when the sync triggers are on the table and enabled: this ferry's two, or an earlier ferry's one. */
export function syncTriggersExist(s: Pick<SyncTrigger, 't' | 'key'>): string {
  const n = syncNames(s);
  return `(SELECT count(*) = 2 FROM pg_trigger WHERE tgrelid = ${s.t.oid} AND tgname IN (${quoteLiteral(n.insert)}, ${quoteLiteral(n.update)}) AND tgenabled <> 'D') OR ${legacyTriggerExists(s)}`;
}

/** The part installing the sync triggers, before any backfill so no concurrent write is missed. */
export function syncPart(s: SyncTrigger): SqlPart {
  const n = syncNames(s);
  return {
    kind: 'sql',
    name: 'sync-trigger',
    description: `keep ${s.oldColumns.join(', ')} and ${s.forward.map((f) => f.column).join(', ')} of ${s.t.display} in sync on every write of either`,
    transaction: true,
    forward: [
      syncFunction(s, [s]),
      `CREATE TRIGGER ${quoteIdent(n.insert)} BEFORE INSERT ON ${s.t.sql} FOR EACH ROW EXECUTE FUNCTION ${n.fn}()`,
      updateTrigger(s, [s]),
    ],
    rollback: dropSync(s),
    verify: [`SELECT ${syncTriggersExist(s)}`],
    locks: [
      { relation: s.t.display, mode: 'ShareRowExclusiveLock', held: 'CREATE TRIGGER, until commit; catalog only, milliseconds (blocks writes meanwhile)' },
    ],
    compose: { role: 'sync', sync: s },
    previous: legacySyncStatements(s),
  };
}

/**
 * What a contract part that drops the sync triggers was when an earlier ferry
 * generated it: the same, dropping only that ferry's one trigger.
 */
export function previousContract(part: SqlPart, s: Pick<SyncTrigger, 't' | 'key'>): NonNullable<SqlPart['previous']> {
  const now = dropSync(s);
  const forward = part.forward.flatMap((stmt) => (stmt === now[0] ? legacyDropSync(s) : now.includes(stmt) ? [] : [stmt]));
  return { forward, rollback: part.rollback, verify: part.verify };
}
