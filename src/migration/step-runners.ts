import type { Queryable } from '../db/database.js';
import { quoteQualified } from '../db/quote.js';
import { FerryError } from '../errors.js';
import type { SqlScript, Step } from './loader.js';

/** What a step ran: each statement with the rows it touched. */
export interface StatementRun {
  sql: string;
  file?: string;
  line?: number;
  affectedRows?: number;
}

/** The result of a step's verify: ok, or the reasons it is not. */
export interface VerifyOutcome {
  ok: boolean;
  failures: string[];
}

/** What a TypeScript step module receives. */
export interface StepContext {
  /** The transaction the step runs in (or the session, for non-transactional steps). */
  db: Queryable;
  /** A line for the run's output. */
  log: (message: string) => void;
}

/** The shape of a `kind: "ts"` step module. */
export interface StepModule {
  forward(ctx: StepContext): Promise<void> | void;
  rollback?(ctx: StepContext): Promise<void> | void;
  /** Return false, or a list of failures, when the step's effect is not there. */
  verify?(ctx: StepContext): Promise<boolean | string[] | undefined> | boolean | string[] | undefined;
}

/** One kind of step: how to apply, undo and check it. Adding a kind is adding one implementation. */
export interface StepKind {
  forward(step: Step, db: Queryable, log: (m: string) => void): Promise<StatementRun[]>;
  rollback(step: Step, db: Queryable, log: (m: string) => void): Promise<StatementRun[]>;
  verify(step: Step, db: Queryable, log: (m: string) => void): Promise<VerifyOutcome | undefined>;
}

/** Error raised inside a statement, carrying where it came from. */
export class StatementError extends Error {
  constructor(
    cause: unknown,
    readonly statement: StatementRun,
  ) {
    super((cause as Error).message ?? String(cause), { cause });
  }
}

async function runScript(script: SqlScript, db: Queryable): Promise<StatementRun[]> {
  const out: StatementRun[] = [];
  for (const s of script.statements) {
    const run: StatementRun = { sql: s.text, file: script.file, line: s.line };
    try {
      const results = await db.exec(s.text);
      const affected = results.at(-1)?.affectedRows;
      if (affected !== undefined) run.affectedRows = affected;
    } catch (err) {
      throw new StatementError(err, run);
    }
    out.push(run);
  }
  return out;
}

function truthy(v: unknown): boolean {
  return v === true || v === 't' || v === 'true' || v === 1;
}

/**
 * Verify SQL passes when every statement returns no rows, or rows whose first
 * column is true — e.g. `SELECT count(*) = 0 FROM users WHERE first_name IS NULL`.
 */
async function runVerifyScript(script: SqlScript, db: Queryable): Promise<VerifyOutcome> {
  const failures: string[] = [];
  for (const s of script.statements) {
    const results = await db.exec(s.text);
    for (const r of results) {
      const first = r.fields[0];
      if (first === undefined) continue;
      const bad = r.rows.find((row) => !truthy(row[first]));
      if (bad) failures.push(`${script.file}:${s.line}: ${s.text.split('\n')[0]} … returned ${first} = ${JSON.stringify(bad[first])}`);
    }
  }
  return { ok: failures.length === 0, failures };
}

const sqlKind: StepKind = {
  forward: (step, db) => runScript(step.forward as SqlScript, db),
  async rollback(step, db) {
    if (!step.rollback) throw new FerryError('E_GATE', `step ${step.id} has no rollback`, 'it is irreversible; restore from backup instead');
    return runScript(step.rollback, db);
  },
  verify: async (step, db) => (step.verify ? runVerifyScript(step.verify, db) : undefined),
};

async function loadModule(step: Step): Promise<StepModule> {
  try {
    // jiti loads only when a TypeScript step runs.
    const { createJiti } = await import('jiti');
    const mod = (await createJiti(import.meta.url, { moduleCache: false }).import(step.module as string)) as Partial<StepModule> & {
      default?: Partial<StepModule>;
    };
    const m = typeof mod.forward === 'function' ? mod : mod.default;
    if (!m || typeof m.forward !== 'function') throw new Error('it exports no forward() function');
    return m as StepModule;
  } catch (err) {
    throw new FerryError(
      'E_MANIFEST',
      `step ${step.id}: cannot load ${step.module}: ${(err as Error).message}`,
      'export forward(ctx), rollback(ctx) and verify(ctx) from the module',
    );
  }
}

const tsKind: StepKind = {
  async forward(step, db, log) {
    await (await loadModule(step)).forward({ db, log });
    return [{ sql: `-- TypeScript step ${step.module}: forward()`, file: step.module as string }];
  },
  async rollback(step, db, log) {
    const m = await loadModule(step);
    if (!m.rollback) throw new FerryError('E_GATE', `step ${step.id} has no rollback()`, `export rollback(ctx) from ${step.module}`);
    await m.rollback({ db, log });
    return [{ sql: `-- TypeScript step ${step.module}: rollback()`, file: step.module as string }];
  },
  async verify(step, db, log) {
    const m = await loadModule(step);
    if (!m.verify) return undefined;
    const r = await m.verify({ db, log });
    if (r === false) return { ok: false, failures: [`${step.module}: verify() returned false`] };
    if (Array.isArray(r)) return { ok: r.length === 0, failures: r };
    return { ok: true, failures: [] };
  },
};

const notInOneTransaction = (step: Step): never => {
  throw new Error(`step ${step.id} is a backfill; it runs in batches through the backfill engine, not in one transaction`);
};

const backfillKind: StepKind = {
  forward: async (step) => notInOneTransaction(step),
  rollback: async (step) => notInOneTransaction(step),
  /** A backfill is verified when no row matches its predicate for rows still to do. */
  async verify(step, db) {
    const spec = step.backfill as NonNullable<Step['backfill']>;
    const { rows } = await db.query<{ n: string | number }>(`SELECT count(*) AS n FROM ${quoteQualified(...spec.table.split('.'))} WHERE ${spec.where}`);
    const n = Number(rows[0]?.n ?? 0);
    return n === 0 ? { ok: true, failures: [] } : { ok: false, failures: [`${n} rows of ${spec.table} still match "${spec.where}"`] };
  },
};

/** The implementation for a step's kind. */
export function kindOf(step: Step): StepKind {
  return step.kind === 'ts' ? tsKind : step.kind === 'backfill' ? backfillKind : sqlKind;
}
