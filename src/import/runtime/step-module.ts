/*
 * The `kind: "ts"` step module ferry writes for a code migration (node-pg-migrate,
 * Knex). It imports the original module by a relative path and runs its `up` /
 * `down` on the step's own transaction (`ctx.db`), through the tool's own
 * library as the project has it installed: node-pg-migrate's MigrationBuilder
 * turns `pgm` calls into SQL, Knex's PostgreSQL client compiles queries. The
 * module is self-contained (it imports nothing from ferry), so a project runs
 * it with any installed ferry; and it is JavaScript so that no type checker of
 * the project needs the tools' types.
 */

/** The tools whose migrations are modules. */
export type CodeTool = 'node-pg-migrate' | 'knex';

const js = (s: string) => JSON.stringify(s);

/** node-pg-migrate: a MigrationBuilder over ctx.db, the action called as node-pg-migrate calls it, then its SQL run in order. */
const NODE_PG_MIGRATE_RUN = `import { MigrationBuilder } from 'node-pg-migrate';

function migration() {
  return typeof original.up === 'function' ? original : (original.default ?? original);
}

/** node-pg-migrate's \`pgm.db\` on ferry's transaction. */
function dbOn(ctx) {
  const query = async (q, values) => {
    const text = typeof q === 'string' ? q : q.text;
    const params = values ?? (typeof q === 'string' ? undefined : q.values);
    const r = await ctx.db.query(text, params);
    return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length, fields: r.fields.map((name) => ({ name })) };
  };
  return { query, select: async (q, values) => (await query(q, values)).rows };
}

async function run(direction, ctx) {
  const m = migration();
  const logger = { info: ctx.log, warn: ctx.log, error: ctx.log, debug() {} };
  const pgm = new MigrationBuilder(dbOn(ctx), {}, false, logger);
  let action = m[direction];
  // node-pg-migrate's rule: no \`down\` export means "run \`up\` in reverse"; \`down: false\` means none.
  if (direction === 'down' && action === undefined) {
    action = m.up;
    pgm.enableReverseMode();
  }
  if (typeof action !== 'function') throw new Error(\`\${FILE} has no \${direction} migration (node-pg-migrate would refuse it too)\`);
  if (action.length === 2) await new Promise((resolve) => action(pgm, resolve));
  else await action(pgm);
  for (const sql of pgm.getSqlSteps()) await ctx.db.exec(sql);
}
`;

/** Knex: Knex's PostgreSQL client whose one connection is ctx.db; \`?\` bindings become \`$n\` in the client as usual. */
const KNEX_RUN = `import knexLib from 'knex';
import PgClient from 'knex/lib/dialects/postgres/index.js';

function migration() {
  return typeof original.up === 'function' ? original : (original.default ?? original);
}

/** The command tag Knex's client reads to shape results (SELECT rows, UPDATE / DELETE counts). */
function commandOf(text, r) {
  const word = (/^\\s*([A-Za-z]+)/.exec(text)?.[1] ?? '').toUpperCase();
  if (word === 'INSERT' || word === 'UPDATE' || word === 'DELETE') return word;
  return r.fields.length > 0 ? 'SELECT' : word;
}

/** A Knex instance whose queries run on ferry's transaction. */
function knexOn(ctx) {
  const connection = {
    query(config, callback) {
      ctx.db.query(config.text, config.values).then(
        (r) => callback(null, { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length, command: commandOf(config.text, r), fields: r.fields.map((name) => ({ name })) }),
        (err) => callback(err),
      );
    },
  };
  class FerryTransactionClient extends PgClient {
    async acquireConnection() {
      return connection;
    }
    async releaseConnection() {}
  }
  const knex = knexLib.knex ?? knexLib;
  return knex({ client: FerryTransactionClient });
}

async function run(direction, ctx) {
  const action = migration()[direction];
  if (typeof action !== 'function') throw new Error(\`\${FILE} exports no \${direction} function\`);
  const knex = knexOn(ctx);
  try {
    await action(knex);
  } finally {
    await knex.destroy();
  }
}
`;

/**
 * The step module of a code migration: `forward` runs the original's `up`,
 * `rollback` its `down`, on the step's transaction. `importPath` is the
 * original's path relative to the migration folder (`../../db/x.js`), `file`
 * its name for messages.
 */
export function codeStepModule(tool: CodeTool, importPath: string, file: string): string {
  const how =
    tool === 'knex'
      ? 'with a Knex instance (the project’s `knex`) whose queries run on the step’s transaction'
      : 'with node-pg-migrate’s MigrationBuilder (the project’s `node-pg-migrate`), its SQL run on the step’s transaction';
  return `// Written by \`ferry import --from ${tool}\`: runs ${file}'s up and down ${how}.
import * as original from ${js(importPath)};
${tool === 'knex' ? KNEX_RUN : NODE_PG_MIGRATE_RUN}
const FILE = ${js(file)};

export const forward = (ctx) => run('up', ctx);
export const rollback = (ctx) => run('down', ctx);
`;
}

/** The step module of a migration ferry cannot run: every call says which file and why. */
export function opaqueStepModule(tool: CodeTool, file: string, reason: string): string {
  return `// Written by \`ferry import --from ${tool}\`: ${file} could not be loaded when it was imported, so ferry cannot run it.
// ${tool} applied it before ferry took over; to make it runnable, fix the module and import again, or replace this step.
const FILE = ${js(file)};
const REASON = ${js(reason)};

export function forward() {
  throw new Error(\`cannot run \${FILE}: \${REASON}\`);
}

export function rollback() {
  throw new Error(\`cannot run \${FILE}: \${REASON}\`);
}
`;
}
