import { type FleetRunRow, latestRun, latestTargetRows, requireLedger } from '../fleet/ledger.js';
import type { FleetTarget } from '../fleet/targets.js';
import { type FleetOptions, openFleet } from './fleet-open.js';
import { eachDatabase } from './fleet-target.js';
import { migrationStatus } from './status.js';

/** One database of `ferry fleet status`. */
export interface FleetDatabaseStatus {
  target: string;
  /** The latest migration (in the project's order) with applied steps, or null. */
  version: string | null;
  /** That migration's phase. */
  phase: string | null;
  /** Migrations with steps still to apply (contract steps aside). */
  pending: number;
  /** The drift problems `ferry status` would show for this database. */
  drift: string[];
  /** Why the database could not be read now (E_CONNECT …), or null. */
  error: string | null;
  /** Its status in the latest run of the ledger that included it, and that run's error for it. */
  ledger: { runId: number; status: string; lastError: string | null } | null;
}

/** `ferry fleet status`: every database's version, phase, drift and last error, and the counts. */
export interface FleetStatus {
  fleet: string;
  control: string;
  /** The fleet's latest run, if any. */
  run: FleetRunRow | null;
  databases: FleetDatabaseStatus[];
  summary: {
    total: number;
    /** How many databases are at each migration ("(none)": nothing applied). */
    byVersion: Record<string, number>;
    /** Unreachable now, or failed in their latest run. */
    failed: number;
    drifted: number;
    unreachable: number;
  };
}

/** Read every database of the fleet (up to `concurrency` at once, each closed after) and the ledger; changes nothing. */
export async function fleetStatus(opts: FleetOptions): Promise<FleetStatus> {
  const { fleet, control } = await openFleet(opts, true);
  try {
    await requireLedger(control, fleet.name, fleet.ws.conn.env);
    const run = (await latestRun(control, fleet.name)) ?? null;
    const ledger = await latestTargetRows(control, fleet.name);
    const ledgerOf = (t: FleetTarget) => {
      const row = ledger.get(t.id);
      return { target: t.id, ledger: row ? { runId: row.runId, status: row.status, lastError: row.lastError } : null };
    };
    const databases = await eachDatabase(
      fleet,
      'ferry fleet status',
      async (db, t): Promise<FleetDatabaseStatus> => {
        const s = await migrationStatus(db, fleet.ws.migrations, { archived: fleet.ws.run.archived ?? [] });
        const latest = s.migrations.filter((m) => m.appliedCount > 0).at(-1);
        return {
          ...ledgerOf(t),
          version: latest?.id ?? null,
          phase: latest?.phase ?? null,
          pending: s.migrations.filter((m) => m.pendingCount > 0).length,
          drift: s.drift.map((d) => d.problem),
          error: null,
        };
      },
      (t, error) => ({ ...ledgerOf(t), version: null, phase: null, pending: 0, drift: [], error }),
    );
    const byVersion: Record<string, number> = {};
    for (const d of databases) if (!d.error) byVersion[d.version ?? '(none)'] = (byVersion[d.version ?? '(none)'] ?? 0) + 1;
    return {
      fleet: fleet.name,
      control: fleet.ws.conn.env,
      run,
      databases,
      summary: {
        total: databases.length,
        byVersion,
        failed: databases.filter((d) => d.error || d.ledger?.status === 'failed').length,
        drifted: databases.filter((d) => d.drift.length > 0).length,
        unreachable: databases.filter((d) => d.error).length,
      },
    };
  } finally {
    await control.close();
  }
}
