import { quoteIdent } from '../db/quote.js';
import { type SyncTrigger, tableRef, viewSchemas } from './compat.js';
import { type ComposedShape, composedContractPart, composedSyncPart, composedViewsPart, residualViewsPart } from './compose-parts.js';
import type { ColumnEffect, ComposeRole, Operation, OpPart, StoredNames } from './types.js';

/**
 * Several operations on one table in one migration, composed the way pgroll's
 * versioned schemas are: the migration publishes one old-shape view (the table
 * as it was) and one new-shape view (the combined effect of every operation,
 * in manifest order), keeps one sync trigger whose function runs each
 * operation's block in order, and contracts in one transaction. A later
 * operation names columns as the earlier ones leave them in the new shape
 * (rename a → b, then change the type of b); its expressions read the row as
 * stored, where a renamed column can also be read under its new name. What
 * cannot compose is a problem when the migration loads, naming both steps.
 */

/** One `kind: "op"` step of a manifest, with its parsed spec. */
export interface OpStep {
  id: string;
  op: Operation<unknown>;
  spec: unknown;
}

/** An op step as it compiles: its spec in stored column names, and its parts after composition. */
export interface ComposedStep {
  spec: unknown;
  expand: OpPart[];
  contract: OpPart[];
}

interface Member {
  step: OpStep;
  /** Its effect as the manifest names columns. */
  effect: ColumnEffect;
}

const q = (name: string) => `"${name}"`;

/** The new shape of one table while the migration's operations on it are walked in order. */
class TableWalk {
  /** New-shape name → stored name, for the columns the steps touched. */
  readonly shown = new Map<string, string>();
  /** Names no longer in the new shape, with the step that removed or renamed them. */
  readonly gone = new Map<string, { by: string; to?: string }>();
  /** Stored columns a step added or retyped, which no later step may change again. */
  readonly origin = new Map<string, { by: string; how: string }>();
  /** Every name a step used, with the first step using it. */
  readonly used = new Map<string, string>();
  readonly shape: ComposedShape;
  compat: { schemas: { old: string; new: string }; by: string } | undefined;

  constructor(
    readonly key: string,
    steps: string[],
  ) {
    const t = tableRef(key);
    this.shape = { t, schemas: viewSchemas(t, undefined), steps, added: [], hidden: [], shadows: new Map(), renamed: new Map() };
  }

  stored = (name: string): string => this.shown.get(name) ?? name;

  /** Why `m` cannot follow the steps walked so far, if it cannot. */
  problems(m: Member): string[] {
    const e = m.effect;
    const id = m.step.id;
    const both = (by: string) => `steps ${q(by)} and ${q(id)}`;
    const out: string[] = [];
    const subject = (c: string, changes: boolean) => {
      const g = this.gone.get(c);
      const o = this.origin.get(this.stored(c));
      if (g?.to !== undefined) {
        out.push(
          `${both(g.by)}: ${q(id)} names column ${q(c)} of ${this.key}, which ${q(g.by)} renames to ${q(g.to)}; a later step names columns as the earlier ones leave them: write ${q(g.to)}`,
        );
      } else if (g) out.push(`${both(g.by)}: ${q(id)} changes column ${q(c)} of ${this.key}, which ${q(g.by)} already removes from the new shape`);
      else if (changes && o) {
        out.push(
          `${both(o.by)}: both change column ${q(c)} of ${this.key} (${q(o.by)} ${o.how}); two changes to one column in one migration are ambiguous: make the second in a later migration`,
        );
      }
    };
    for (const c of [...e.hides, ...e.retypes.map((r) => r.column)]) subject(c, true);
    if (e.rename) subject(e.rename.from, false);
    for (const n of [...e.adds, ...(e.rename ? [e.rename.to] : [])]) {
      const by = this.used.get(n);
      if (by !== undefined) out.push(`${both(by)}: ${q(id)} introduces column ${q(n)} in ${this.key}, a name ${q(by)} already uses there; pick another name`);
    }
    if (e.views) {
      const schemas = viewSchemas(tableRef(e.table), e.compat);
      const c = this.compat;
      if (c && (c.schemas.old !== schemas.old || c.schemas.new !== schemas.new)) {
        out.push(
          `${both(c.by)}: they publish the views of ${this.key} under different compat schemas (${c.schemas.old}/${c.schemas.new} and ${schemas.old}/${schemas.new}); a migration has one pair of views per table: give both the same "compat", or none`,
        );
      }
    }
    return out;
  }

  /** Rename `m`'s spec into stored names and record its effect on the new shape; returns the spec it compiles with. */
  walk(m: Member): unknown {
    const { op, spec, id } = m.step;
    const aliases = [...this.shown].filter(([shown, stored]) => shown !== stored);
    const names: StoredNames = {
      column: this.stored,
      expression(sql) {
        // Only names the text may mention; a correlated subquery makes them readable under their new names.
        const used = aliases.filter(([shown]) => sql.toLowerCase().includes(shown.toLowerCase()));
        if (used.length === 0) return sql;
        return `(SELECT (\n${sql}\n) FROM (SELECT ${used.map(([shown, stored]) => `${quoteIdent(stored)} AS ${quoteIdent(shown)}`).join(', ')}) AS ferry_renamed)`;
      },
    };
    const stored = op.stored ? op.stored(spec, names) : spec;
    const e = m.effect;
    const s = op.columns?.(stored) ?? e;
    const use = (n: string) => {
      if (!this.used.has(n)) this.used.set(n, id);
    };
    [...e.hides, ...e.adds, ...e.retypes.map((r) => r.column), ...(e.rename ? [e.rename.from, e.rename.to] : [])].forEach(use);
    [...s.hides, ...s.adds, ...s.retypes.flatMap((r) => [r.column, r.shadow])].forEach(use);
    e.hides.forEach((c, i) => {
      this.shape.hidden.push(s.hides[i] as string);
      this.shown.delete(c);
      this.gone.set(c, { by: id });
    });
    e.retypes.forEach((r, i) => {
      const sr = s.retypes[i] as ColumnEffect['retypes'][number];
      this.shape.shadows.set(sr.column, { shadow: sr.shadow, type: sr.type });
      this.origin.set(sr.column, { by: id, how: 'changes its type' });
      this.shown.set(r.column, sr.column);
    });
    if (e.rename && s.rename) {
      this.shown.delete(e.rename.from);
      this.shown.set(e.rename.to, s.rename.from);
      this.gone.set(e.rename.from, { by: id, to: e.rename.to });
    }
    for (const a of s.adds) {
      this.shape.added.push(a);
      this.shown.set(a, a);
      this.origin.set(a, { by: id, how: 'adds it' });
    }
    if (e.views && !this.compat) {
      const schemas = viewSchemas(tableRef(e.table), e.compat);
      this.compat = { schemas, by: id };
      this.shape.schemas = schemas;
    }
    return stored;
  }

  /** Stored name → shown name of every column the new shape shows under another name. */
  finish(): void {
    for (const [shown, stored] of this.shown) if (shown !== stored) this.shape.renamed.set(stored, shown);
  }
}

const roleOf = (p: OpPart): ComposeRole | undefined => (p.kind === 'sql' ? p.compose : undefined);
const keyOf = (table: string) => {
  const t = tableRef(table);
  return `${t.schema}.${t.name}`;
};

/** Replace the parts of `members` that each would publish for the table by one views part, one trigger and one contract. */
function composeParts(walk: TableWalk, members: Member[], out: Map<string, ComposedStep>): void {
  const steps = members.map((m) => out.get(m.step.id) as ComposedStep);
  const syncs = steps.flatMap((s, i) => s.expand.flatMap((p) => (roleOf(p)?.role === 'sync' ? [{ i, sync: (roleOf(p) as { sync: SyncTrigger }).sync }] : [])));
  const first = syncs[0]?.sync;
  if (first && syncs.length > 1) {
    const ids = syncs.map((x) => members[x.i]?.step.id as string);
    syncs.forEach((x, k) => {
      if (k === 0) return;
      const s = steps[x.i] as ComposedStep;
      s.expand = s.expand.map((p) =>
        roleOf(p)?.role === 'sync'
          ? composedSyncPart(
              first,
              syncs.map((y) => y.sync),
              k,
              ids,
            )
          : p,
      );
    });
  }
  const verify = steps.flatMap((s) =>
    s.expand.flatMap((p) => {
      const r = roleOf(p);
      return r?.role === 'views' ? r.verify : [];
    }),
  );
  const last = steps.length - 1;
  steps.forEach((s, i) => {
    const views = s.expand.find((p) => roleOf(p)?.role === 'views');
    const extra = (views && (roleOf(views) as { rollback: string[] }).rollback) ?? [];
    if (i === last) {
      const composed = composedViewsPart(walk.shape, verify, extra);
      s.expand = views ? s.expand.map((p) => (p === views ? composed : p)) : [...s.expand, composed];
    } else if (views) {
      const publisher = `${members[last]?.step.id}.compat-views`;
      s.expand = s.expand.map((p) => (p === views ? residualViewsPart(walk.shape.t, publisher, extra) : p));
    }
  });
  const reshapers = steps.filter((s) => s.contract.some((p) => roleOf(p)?.role === 'reshape'));
  const statements = reshapers.flatMap((s) =>
    s.contract.flatMap((p) => {
      const r = roleOf(p);
      return r?.role === 'reshape' ? r.statements : [];
    }),
  );
  const handles = [...new Set(members.flatMap((m) => m.step.op.handles ?? []))];
  reshapers.forEach((s, i) => {
    s.contract = s.contract.flatMap((p) =>
      roleOf(p)?.role !== 'reshape' ? [p] : i === reshapers.length - 1 ? [{ ...composedContractPart(walk.shape, statements, first?.key), handles }] : [],
    );
  });
}

/**
 * Compose the op steps of one migration (in manifest order). Returns each
 * step's spec and parts, and the problems of steps that cannot compose.
 */
export function composeOperations(steps: OpStep[]): { steps: Map<string, ComposedStep>; problems: string[] } {
  const out = new Map<string, ComposedStep>();
  const problems: string[] = [];
  const byTable = new Map<string, Member[]>();
  for (const step of steps) {
    const effect = step.op.columns?.(step.spec);
    if (!effect) continue;
    const key = keyOf(effect.table);
    byTable.set(key, [...(byTable.get(key) ?? []), { step, effect }]);
  }
  const specs = new Map(steps.map((s) => [s.id, s.spec]));
  for (const [key, members] of byTable) {
    const viewer = members.find((m) => m.effect.views);
    if (!viewer) continue;
    for (const s of steps.filter((x) => x.op.name === 'rename-table' || x.op.name === 'drop-table')) {
      const dropped = s.op.name === 'drop-table';
      const r = s.spec as { from: string; to: string } | { table: string };
      const names = 'table' in r ? [keyOf(r.table)] : [keyOf(r.from), `${tableRef(r.from).schema}.${tableRef(r.to).name}`];
      if (names.includes(key)) {
        const [a, b] = steps.indexOf(s) < steps.indexOf(viewer.step) ? [s.id, viewer.step.id] : [viewer.step.id, s.id];
        problems.push(
          `steps ${q(a)} and ${q(b)}: ${q(s.id)} ${dropped ? 'drops' : 'renames'} table ${key} and ${q(viewer.step.id)} publishes views of its columns in the same migration; put them in separate migrations`,
        );
      }
    }
    if (members.length < 2) continue;
    const walk = new TableWalk(
      key,
      members.map((m) => m.step.id),
    );
    const found = members.flatMap((m) => {
      const p = walk.problems(m);
      if (p.length === 0) specs.set(m.step.id, walk.walk(m));
      return p;
    });
    problems.push(...found);
    if (found.length > 0) continue;
    walk.finish();
    for (const m of members) {
      const spec = specs.get(m.step.id);
      out.set(m.step.id, { spec, expand: m.step.op.expand(spec), contract: m.step.op.contract(spec) });
    }
    composeParts(walk, members, out);
  }
  for (const s of steps) if (!out.has(s.id)) out.set(s.id, { spec: s.spec, expand: s.op.expand(s.spec), contract: s.op.contract(s.spec) });
  return { steps: out, problems };
}
