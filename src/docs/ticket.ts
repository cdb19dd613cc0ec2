import type { WorkflowPhase } from './plan-spec.js';

/** The kinds of ticket. */
export const TICKET_TYPES = ['task', 'bug', 'story'] as const;
/** A ticket's kind. */
export type TicketType = (typeof TICKET_TYPES)[number];

/** A ticket: a numbered Markdown file in the project's `tickets/` folder. */
export interface Ticket {
  number: number;
  title: string;
  type: TicketType;
  status: 'open' | 'closed';
  created: string;
  closed: string | null;
  /** The migration it belongs to, for phase tickets and tickets filed against one. */
  migration: string | null;
  /** The workflow phase a phase ticket stands for; phase changes close it. */
  phase: WorkflowPhase | null;
  /** The description, as Markdown. */
  body: string;
  /** Dated notes, oldest first (closing adds one). */
  notes: string[];
}

const FIELDS = ['number', 'title', 'type', 'status', 'created', 'closed', 'migration', 'phase'] as const;

/** A ticket as its file's text: front matter, description and notes. */
export function renderTicket(t: Ticket): string {
  const head = FIELDS.map((k) => `${k}: ${t[k] === null ? '' : String(t[k]).replace(/\n/g, ' ')}`);
  const notes = t.notes.length ? ['', '## Notes', '', ...t.notes.map((n) => `- ${n}`)] : [];
  return ['---', ...head, '---', '', `# ${t.number}. ${t.title}`, '', t.body.trim(), ...notes, ''].join('\n');
}

/** Parse a ticket file written by {@link renderTicket}; undefined when it is not one. */
export function parseTicket(text: string): Ticket | undefined {
  const m = /^---\n([\s\S]*?)\n---\n/.exec(text);
  if (!m) return undefined;
  const f: Record<string, string> = {};
  for (const line of (m[1] as string).split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) f[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  const number = Number(f.number);
  if (!Number.isInteger(number) || !f.title) return undefined;
  const rest = text.slice(m[0].length);
  const [beforeNotes = '', notesText = ''] = rest.split(/\n## Notes\n/);
  const body = beforeNotes.replace(/^\s*# .*\n/, '').trim();
  const notes = notesText
    .split('\n')
    .filter((l) => l.startsWith('- '))
    .map((l) => l.slice(2));
  return {
    number,
    title: f.title,
    type: (TICKET_TYPES as readonly string[]).includes(f.type ?? '') ? (f.type as TicketType) : 'task',
    status: f.status === 'closed' ? 'closed' : 'open',
    created: f.created ?? '',
    closed: f.closed || null,
    migration: f.migration || null,
    phase: (f.phase || null) as WorkflowPhase | null,
    body,
    notes,
  };
}

/** The four phase tickets `ferry new` files for a migration: their titles and what each covers. */
export function phaseTicketTexts(migrationId: string, title: string): { phase: WorkflowPhase; title: string; body: string }[] {
  return [
    {
      phase: 'plan',
      title: `Plan: ${title}`,
      body: `Fill in the plan of \`${migrationId}\` (scope, timeline, risks, criteria), review \`ferry plan ${migrationId}\`, and collect the approvals (\`ferry approve ${migrationId} --as "<role>"\`).\n\nCloses when the migration is approved.`,
    },
    {
      phase: 'preparation',
      title: `Preparation: ${title}`,
      body: `Write the forward, rollback and verify scripts, keep both shapes working side by side, \`ferry up --dry-run\`, \`ferry rehearse\`, review \`ferry rollback-plan ${migrationId}\`; apply and backfill.\n\nCloses when the rollout starts (canary).`,
    },
    {
      phase: 'rollout',
      title: `Rollout: ${title}`,
      body: `Canary, then each stage while the health matrix stays green (\`ferry rollout ${migrationId} …\`); at 100 %, \`ferry verify ${migrationId} --full\`; publish \`ferry report ${migrationId}\`.\n\nCloses when the migration is verified.`,
    },
    {
      phase: 'cleanup',
      title: `Cleanup: ${title}`,
      body: `After the deprecation period: \`ferry cleanup ${migrationId}\` (backup, contract steps, flag removal, archive), then \`ferry retro ${migrationId}\`.\n\nCloses when the migration is archived.`,
    },
  ];
}
