import { type Command, Option } from 'commander';
import { TICKET_TYPES, type TicketType } from '../../docs/ticket.js';
import { loadProject } from '../../project/config.js';
import { closeTicket, createTicket, listTickets } from '../../project/tickets.js';
import { checkMigrationArgument, type GlobalOptions } from '../context.js';
import { wholeNumber } from '../numbers.js';
import { pc, processOutput } from '../output.js';

/** `ferry ticket create|list|close`: numbered Markdown tickets in the project's tickets/ folder. */
export function registerTicketCommands(program: Command, globals: () => GlobalOptions): void {
  const ticket = program
    .command('ticket')
    .description('numbered Markdown tickets in tickets/: create, list, close (ferry new files the four phase tickets)')
    .addHelpText(
      'after',
      '\nPhase tickets (plan, preparation, rollout, cleanup) close by themselves when the migration\nmoves past their phase (after the ferry command that moved it).\n\nExamples:\n  ferry ticket create "Backfill is slow on replicas" --type bug\n  ferry ticket list\n  ferry ticket close 3 --note "fixed by batch size 500"',
    );

  ticket
    .command('create')
    .description('file a new ticket with the next number')
    .argument('<title>', 'one line')
    .addOption(new Option('--type <type>', 'kind of ticket').choices(TICKET_TYPES).default('task'))
    .option('--body <text>', 'description (Markdown)')
    .option('--migration <id>', 'the migration it belongs to')
    .addHelpText(
      'after',
      '\nExamples:\n  ferry ticket create "Update the API docs for first_name" --type story\n  ferry ticket create "Backfill is slow" --type bug --migration split_full_name',
    )
    .action((title: string, o: { type: TicketType; body?: string; migration?: string }) => {
      checkMigrationArgument(o.migration);
      const g = globals();
      const out = processOutput(Boolean(g.json));
      const project = loadProject(g.project ?? process.cwd());
      const t = createTicket(project.root, { title, type: o.type, ...(o.body ? { body: o.body } : {}), ...(o.migration ? { migration: o.migration } : {}) });
      out.line(`${pc.green('ticket')} #${t.number} ${t.title} ${pc.dim(`(${t.type}) ${t.file}`)}`);
      out.result(t);
    });

  ticket
    .command('list')
    .description('the tickets, open first')
    .option('--all', 'closed ones too')
    .addHelpText('after', '\nExamples:\n  ferry ticket list\n  ferry ticket list --all --json')
    .action((o: { all?: boolean }) => {
      const g = globals();
      const out = processOutput(Boolean(g.json));
      const project = loadProject(g.project ?? process.cwd());
      const all = listTickets(project.root);
      const shown = o.all ? all : all.filter((t) => t.status === 'open');
      for (const t of shown) {
        const mark = t.status === 'open' ? pc.yellow('○') : pc.green('●');
        out.line(
          `${mark} #${String(t.number).padEnd(4)} ${t.title} ${pc.dim(`${t.type}${t.migration ? `  ${t.migration}` : ''}${t.phase ? ` (${t.phase})` : ''}`)}`,
        );
      }
      if (shown.length === 0) out.line(o.all ? 'no tickets yet' : 'no open tickets');
      out.result({ tickets: shown });
    });

  ticket
    .command('close')
    .description('close a ticket with a dated note')
    .argument('<n>', 'ticket number')
    .option('--note <text>', 'why', 'done')
    .addHelpText('after', '\nExample:\n  ferry ticket close 3 --note "fixed by batch size 500"')
    .action((n: string, o: { note: string }) => {
      const g = globals();
      const out = processOutput(Boolean(g.json));
      const number = wholeNumber('a ticket number', n.replace(/^#/, ''), { min: 1 }, 'ferry ticket close 3');
      const project = loadProject(g.project ?? process.cwd());
      const t = closeTicket(project.root, number, o.note);
      out.line(`${pc.green('closed')} #${t.number} ${t.title}`);
      out.result(t);
    });

  for (const c of ticket.commands) c.exitOverride().showHelpAfterError('(run with --help for usage)');
}
