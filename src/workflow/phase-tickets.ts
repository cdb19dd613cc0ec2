import type { Queryable } from '../db/database.js';
import { firstReaching, PHASE_END_RANK } from '../docs/facts.js';
import type { Ticket } from '../docs/ticket.js';
import type { Project } from '../project/config.js';
import { closePhaseTickets, listTickets } from '../project/tickets.js';
import { readEvents } from '../state/store.js';

/** A ticket as the project's tickets/ folder holds it. */
export type FiledTicket = Ticket & { file: string };

/** The open phase tickets of a project (they name a phase and a migration): those {@link syncPhaseTickets} may close. */
export function openPhaseTickets(project: Pick<Project, 'root'>): FiledTicket[] {
  return listTickets(project.root).filter((t) => t.status === 'open' && t.phase !== null && t.migration !== null);
}

/**
 * Close the open phase tickets whose phase the event log of `db` shows is over
 * (the migration moved past it), with the move that ended it; resolves to the
 * tickets closed, in order. `open` is {@link openPhaseTickets} when the caller has read it already.
 */
export async function syncPhaseTickets(db: Queryable, project: Pick<Project, 'root'>, open = openPhaseTickets(project)): Promise<FiledTicket[]> {
  const closed: FiledTicket[] = [];
  for (const id of new Set(open.map((t) => t.migration as string))) {
    const events = await readEvents(db, id);
    closed.push(
      ...closePhaseTickets(project.root, id, (phase) => {
        const e = firstReaching(events, PHASE_END_RANK[phase]);
        return e ? { at: e.at, to: e.toPhase ?? '', actor: e.actor } : undefined;
      }),
    );
  }
  return closed;
}
