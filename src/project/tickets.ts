import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowPhase } from '../docs/plan-spec.js';
import { parseTicket, renderTicket, type Ticket, type TicketType } from '../docs/ticket.js';
import { FerryError } from '../errors.js';
import { entryExists, readFolder, readTextFile, UnreadableFile } from './text-file.js';

/** The project's ticket folder. */
export function ticketsDir(root: string): string {
  return join(root, 'tickets');
}

const fileName = (t: Pick<Ticket, 'number' | 'title'>) =>
  `${String(t.number).padStart(4, '0')}-${
    t.title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 50) || 'ticket'
  }.md`;

/** Every ticket of the project with its file, by number; a folder or ticket that cannot be read is E_CONFIG naming it and the reason. */
export function listTickets(root: string): (Ticket & { file: string })[] {
  const dir = ticketsDir(root);
  if (!entryExists(dir)) return [];
  try {
    return readFolder(dir)
      .filter((f) => /^\d+-.*\.md$/.test(f))
      .flatMap((f) => {
        const t = parseTicket(readTextFile(join(dir, f)));
        return t ? [{ ...t, file: join(dir, f) }] : [];
      })
      .sort((a, b) => a.number - b.number);
  } catch (err) {
    if (!(err instanceof UnreadableFile)) throw err;
    throw new FerryError('E_CONFIG', err.message, 'tickets are Markdown files in tickets/: make them readable UTF-8 files (check permissions and owner)');
  }
}

/** File a new ticket with the next number. */
export function createTicket(
  root: string,
  t: { title: string; type: TicketType; body?: string; migration?: string; phase?: WorkflowPhase; now?: Date },
): Ticket & { file: string } {
  const title = t.title.trim();
  if (!title) throw new FerryError('E_USAGE', 'a ticket needs a title', 'ferry ticket create "Backfill is slow on replicas" --type bug');
  const dir = ticketsDir(root);
  mkdirSync(dir, { recursive: true });
  const number = Math.max(0, ...listTickets(root).map((x) => x.number)) + 1;
  const ticket: Ticket = {
    number,
    title,
    type: t.type,
    status: 'open',
    created: (t.now ?? new Date()).toISOString(),
    closed: null,
    migration: t.migration ?? null,
    phase: t.phase ?? null,
    body: t.body ?? '',
    notes: [],
  };
  const file = join(dir, fileName(ticket));
  writeFileSync(file, renderTicket(ticket), { flag: 'wx' });
  return { ...ticket, file };
}

/** Close ticket `number` with a dated note; E_NOT_FOUND for an unknown number, E_GATE when it is already closed. */
export function closeTicket(root: string, number: number, note: string, now = new Date()): Ticket & { file: string } {
  const all = listTickets(root);
  const t = all.find((x) => x.number === number);
  if (!t) {
    throw new FerryError('E_NOT_FOUND', `no ticket ${number}`, all.length ? `tickets: ${all.map((x) => x.number).join(', ')}` : 'there are no tickets yet');
  }
  if (t.status === 'closed') throw new FerryError('E_GATE', `ticket ${number} is already closed (${t.closed})`, 'nothing to do');
  const closed: Ticket = {
    ...t,
    status: 'closed',
    closed: now.toISOString(),
    notes: [...t.notes, `${now.toISOString().slice(0, 16).replace('T', ' ')} UTC: closed — ${note}`],
  };
  const { file } = t;
  writeFileSync(file, renderTicket(closed));
  return { ...closed, file };
}

/**
 * Close the open phase tickets of `migrationId` whose workflow phase is over:
 * `reached(phase)` says when (and by whom) the migration passed that phase's end, from its log.
 */
export function closePhaseTickets(
  root: string,
  migrationId: string,
  reached: (phase: WorkflowPhase) => { at: Date; to: string; actor: string } | undefined,
): (Ticket & { file: string })[] {
  const closed: (Ticket & { file: string })[] = [];
  for (const t of listTickets(root)) {
    if (t.status !== 'open' || t.migration !== migrationId || t.phase === null) continue;
    const r = reached(t.phase);
    if (r)
      closed.push(
        closeTicket(
          root,
          t.number,
          `${migrationId} reached ${r.to} on ${r.at.toISOString().slice(0, 16).replace('T', ' ')} UTC (by ${r.actor}); the ${t.phase} phase is over`,
        ),
      );
  }
  return closed;
}
