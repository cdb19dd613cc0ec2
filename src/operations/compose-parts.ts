import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { columnCheck, contractLocks, dropViews, type SyncTrigger, type TableRef, type ViewShape, viewsGone, viewsPart } from './compat.js';
import { dropSync, previousContract, replaceUpdateTrigger, syncBlock, syncFunction, syncNames, syncTriggersExist } from './sync.js';
import { legacyBlock, legacyFunction, legacyTriggerExists } from './sync-legacy.js';
import type { SqlPart } from './types.js';

/** The new shape of one table after all of a migration's operations on it, in stored column names. */
export interface ComposedShape {
  t: TableRef;
  schemas: { old: string; new: string };
  /** The steps composed, in manifest order, for descriptions. */
  steps: string[];
  /** Columns added by the migration (split, merge, add-column): the old-shape view leaves them out. */
  added: string[];
  /** Existing columns the new shape no longer shows. */
  hidden: string[];
  /** Columns whose new-shape value lives in a shadow column of another type until contract. */
  shadows: Map<string, { shadow: string; type: string }>;
  /** Columns the new shape shows under another name: stored name → shown name. */
  renamed: Map<string, string>;
}

/** The old-shape view (the table as before the migration) and the new-shape view, with the combined effect of every operation. */
export function composedViewsPart(c: ComposedShape, verify: string[], rollback: string[]): SqlPart {
  const shadows = [...c.shadows.values()].map((s) => s.shadow);
  const old: ViewShape = { hide: [...c.added, ...shadows] };
  const fresh: ViewShape = {
    hide: [...c.hidden, ...shadows],
    rename: Object.fromEntries(c.renamed),
    replace: Object.fromEntries([...c.shadows].map(([column, s]) => [column, s.shadow])),
  };
  const part = viewsPart(c.t, c.schemas, old, fresh, verify, rollback);
  return { ...part, description: `${part.description}, with the combined effect of steps ${c.steps.join(', ')}` };
}

/**
 * What is left of a step's views part when another step publishes the table's
 * views: nothing on up, and on down the statements its rollback runs once the
 * views are gone. It stays a step, so every operation has one to be recorded,
 * planned and checked by.
 */
export function residualViewsPart(t: TableRef, publisher: string, rollback: string[]): SqlPart {
  return {
    kind: 'sql',
    name: 'compat-views',
    description: `nothing on up: step ${publisher} publishes the views of ${t.display} for every step changing it${rollback.length ? '; on down, what this step needs once the views are gone' : ''}`,
    transaction: true,
    forward: [],
    rollback,
    verify: [],
    locks: [],
  };
}

/** True when the trigger function holds `block` in the form of this ferry or (`legacy`) an earlier one. */
const holdsBlock = (fn: string, block: string) =>
  `EXISTS (SELECT 1 FROM pg_proc WHERE oid = to_regprocedure(${quoteLiteral(`${fn}()`)}) AND strpos(prosrc, ${quoteLiteral(block)}) > 0)`;

/**
 * The sync part of the `k`-th (from 0) operation keeping columns of one table
 * in sync: the table has one trigger function, which runs each operation's
 * block in manifest order; this part adds block `k` (and its columns to the
 * UPDATE trigger) and its rollback takes it out again. Part 0 is the first
 * operation's own part, which creates them.
 */
export function composedSyncPart(first: SyncTrigger, blocks: SyncTrigger[], k: number, steps: string[]): SqlPart {
  const n = syncNames(first);
  const block = blocks[k] as SyncTrigger;
  const upTo = blocks.slice(0, k + 1);
  const before = blocks.slice(0, k);
  return {
    kind: 'sql',
    name: 'sync-trigger',
    description: `also keep ${block.oldColumns.join(', ')} and ${block.forward.map((f) => f.column).join(', ')} of ${first.t.display} in sync: one trigger function for steps ${steps.slice(0, k + 1).join(', ')}`,
    transaction: true,
    forward: [syncFunction(first, upTo, true), replaceUpdateTrigger(first, upTo)],
    rollback: [syncFunction(first, before, true), replaceUpdateTrigger(first, before)],
    // An earlier ferry's function and trigger, when it applied the first steps, keep the table in sync as well.
    verify: [`SELECT ${syncTriggersExist(first)}`, `SELECT ${holdsBlock(n.fn, syncBlock(block))} OR ${holdsBlock(n.fn, legacyBlock(block))}`],
    // CREATE OR REPLACE FUNCTION changes the catalog only (writers pick the new body up on their next row); the UPDATE trigger is recreated.
    locks: [
      {
        relation: first.t.display,
        mode: 'ShareRowExclusiveLock',
        held: 'DROP and CREATE TRIGGER of the UPDATE trigger, until commit; catalog only, milliseconds (blocks writes meanwhile)',
      },
    ],
    previous: {
      forward: [legacyFunction(first, upTo, true)],
      rollback: [legacyFunction(first, before, true)],
      verify: [`SELECT ${legacyTriggerExists(first)}`, `SELECT ${holdsBlock(n.fn, legacyBlock(block))}`],
    },
  };
}

const typeOf = (t: TableRef, column: string) =>
  `(SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = ${t.oid} AND attname = ${quoteLiteral(column)} AND NOT attisdropped)`;

/**
 * The one contract part of a table several operations changed, all in one
 * transaction so no application ever sees a half-changed table: drop the
 * views and the sync trigger, make each operation's column changes in
 * manifest order, then rename columns to the names the new shape shows.
 */
export function composedContractPart(c: ComposedShape, statements: string[], syncKey: string | undefined): SqlPart {
  const { t, schemas } = c;
  const views = dropViews(t, schemas);
  const renames = [...c.renamed].map(([from, to]) => `ALTER TABLE ${t.sql} RENAME COLUMN ${quoteIdent(from)} TO ${quoteIdent(to)}`);
  const shown = (column: string) => c.renamed.get(column) ?? column;
  const part: SqlPart = {
    kind: 'sql',
    name: 'drop-old-shape',
    description: `drop the views${syncKey === undefined ? '' : ' and the sync trigger'} of ${t.display}, then make the column changes of steps ${c.steps.join(', ')} for good`,
    transaction: true,
    forward: [...views.slice(0, 2), ...(syncKey === undefined ? [] : dropSync({ t, key: syncKey })), ...statements, ...renames, ...views.slice(2)],
    rollback: [],
    verify: [
      ...c.hidden.map((col) => columnCheck(t, col, false)),
      ...[...c.shadows.values()].map((s) => columnCheck(t, s.shadow, false)),
      ...[...c.renamed].flatMap(([from, to]) => [columnCheck(t, from, false), columnCheck(t, to)]),
      ...[...c.shadows].map(([col, s]) => `SELECT ${typeOf(t, shown(col))} = format_type(${quoteLiteral(s.type)}::regtype, NULL)`),
      viewsGone(t, schemas),
    ],
    locks: contractLocks(t, schemas, `${syncKey === undefined ? '' : 'DROP TRIGGER, '}DROP COLUMN, RENAME COLUMN and SET NOT NULL, until commit`),
  };
  return syncKey === undefined ? part : { ...part, previous: previousContract(part, { t, key: syncKey }) };
}
