// One backfill worker as its own process, for crash and concurrency tests:
// runs runBackfill once from the BUILT engine (npm run build first).
// Config in $FERRY_BACKFILL_WORKER (JSON): { url | dataDir, migrationId, spec, moduleFile?, workerId?, leaseMs? }.
// Prints "started", then "progress <rowsDone>" lines, then "final <progress JSON>".
import { backfillStepSchema, runBackfill } from '../../dist/backfill/index.js';
import { openPglite } from '../../dist/db/pglite.js';
import { openServer } from '../../dist/db/server.js';

const cfg = JSON.parse(process.env.FERRY_BACKFILL_WORKER ?? '{}');
const db = cfg.url ? await openServer({ url: cfg.url, applicationName: `backfill-worker ${process.pid}` }) : await openPglite({ dataDir: cfg.dataDir });
const spec = backfillStepSchema.parse(cfg.spec);
const target = { migrationId: cfg.migrationId, stepId: spec.id, spec, ...(cfg.moduleFile ? { moduleFile: cfg.moduleFile } : {}) };
process.stdout.write('started\n');
try {
  const final = await runBackfill(db, target, {
    lockTimeoutMs: 2000,
    ...(cfg.workerId ? { workerId: cfg.workerId } : {}),
    ...(cfg.leaseMs ? { leaseMs: cfg.leaseMs } : {}),
    onProgress: (p) => process.stdout.write(`progress ${p.rowsDone}\n`),
  });
  process.stdout.write(`final ${JSON.stringify(final)}\n`);
} catch (err) {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exitCode = 1;
} finally {
  await db.close();
}
