import type { Command } from 'commander';
import { openConnection } from '../db/connect.js';
import { loadProject, resolveConnection } from '../project/config.js';
import { openPhaseTickets, syncPhaseTickets } from '../workflow/phase-tickets.js';
import type { GlobalOptions } from './context.js';
import { pc, processOutput } from './output.js';

/** Commands that can move a migration's phase; after them, phase tickets are brought up to date. */
const PHASE_MOVERS = new Set(['up', 'down', 'baseline', 'approve', 'backfill', 'rollout', 'set', 'verify', 'contract', 'cleanup']);

/**
 * After a command that may have moved phases: close the open phase tickets whose
 * phase the event log shows is over. Bookkeeping only — a failure here never
 * fails the command that ran.
 */
export async function syncTicketsAfter(g: GlobalOptions, command: Command): Promise<void> {
  if (!PHASE_MOVERS.has(command.name()) || command.opts<{ dryRun?: boolean }>().dryRun) return;
  try {
    const project = loadProject(g.project ?? process.cwd());
    const open = openPhaseTickets(project);
    if (open.length === 0) return;
    const db = await openConnection(resolveConnection(project, g.env), { lockWaitMs: 10_000, purpose: 'tickets' });
    try {
      const out = processOutput(Boolean(g.json));
      for (const t of await syncPhaseTickets(db, project, open)) out.line(`${pc.green('ticket')} #${t.number} closed: ${t.title}`);
    } finally {
      await db.close();
    }
  } catch (err) {
    if (g.debug) process.stderr.write(`${pc.dim(`tickets not synced: ${err instanceof Error ? err.message : String(err)}`)}\n`);
  }
}
