import type { Command } from 'commander';
import { fleetAbandon, fleetInit, fleetStatus } from '../../workflow/fleet.js';
import { type GlobalOptions, workspaceOptionsOf } from '../context.js';
import { printFleetStatus } from '../fleet-output.js';
import { pc, processOutput } from '../output.js';

/** The commands that also take a fleet environment. */
const FLEET_COMMANDS = new Set(['up', 'down', 'verify', 'status', 'contract', 'backfill', 'approve']);

/** `ferry fleet init|status|abandon`: the fleet ledger and the state of every database of a fleet environment. */
export function registerFleetCommands(program: Command, globals: () => GlobalOptions): void {
  for (const c of program.commands.filter((x) => FLEET_COMMANDS.has(x.name()))) {
    if (c.name() === 'approve') {
      c.addHelpText(
        'after',
        '\nOn a fleet environment (--env <fleet>): the approval is recorded in every database of the fleet in one pass\n(no waves, no ledger run); databases where the role already approved are skipped, so running it again after a\nfailure approves the rest; exit 20 names each database that failed.',
      );
      continue;
    }
    c.addHelpText(
      'after',
      `\nOn a fleet environment (--env <fleet>, see \`ferry fleet --help\`): every database of the fleet in waves, from the ledger${
        c.name() === 'status' ? ' (as `ferry fleet status`)' : c.name() === 'down' ? ' (reverse waves, canaries last; default: the latest migration)' : ''
      }; exit 20 when the run stops or a database fails.`,
    );
  }
  const fleet = program
    .command('fleet')
    .description('many databases (tenants, shards) as one environment: its ledger and the state of every database')
    .addHelpText(
      'after',
      '\nA fleet environment ("fleet" in ferry.config.json) takes up, down, verify, status, contract and backfill\nwith --env <fleet> (and approve: every database in one pass): every database in waves (canaries first; down in reverse), a wave only after the\nprevious one is done, stopped after the wave where failures exceed the budget. Runners share a run\nthrough the ledger in the control environment; the same command again resumes it.\n\nExit codes: 0 ok, 3 config (bad or duplicate URLs, empty fleet), 5 no ledger (run `ferry fleet init`),\n6 a database unreachable, 7 another unfinished run, 8 drift, 20 run stopped or finished with failed databases.\n\nExamples:\n  ferry fleet init --env tenants\n  ferry up --env tenants\n  ferry fleet status --env tenants --json\n  ferry fleet abandon --env tenants',
    );

  fleet
    .command('init')
    .description("create the fleet ledger (schema ferry_fleet) in the fleet's control database; safe to run again")
    .addHelpText('after', '\nExample:\n  ferry fleet init --env tenants')
    .action(async () => {
      const out = processOutput(Boolean(globals().json));
      const r = await fleetInit(workspaceOptionsOf(globals()));
      out.line(
        `${r.created ? pc.green('created') : 'already there:'} the ledger of fleet ${pc.bold(r.fleet)} in environment ${r.control} (schema ferry_fleet)`,
      );
      out.result(r);
    });

  fleet
    .command('status')
    .description('every database of the fleet: version (latest applied migration), phase, drift and last error; counts per migration')
    .addHelpText(
      'after',
      "\nReads each database (up to the fleet's concurrency at once) and the ledger; changes nothing. `ferry status --env <fleet>`\nis the same. Exit codes: 0 ok, 8 a database drifted, 6 a database could not be read.\n\nExamples:\n  ferry fleet status --env tenants\n  ferry fleet status --env tenants --json",
    )
    .action(async () => {
      printFleetStatus(processOutput(Boolean(globals().json)), await fleetStatus(workspaceOptionsOf(globals())));
    });

  fleet
    .command('abandon')
    .description("give up the fleet's unfinished run, so a run with another plan may start; every database keeps what it has")
    .addHelpText('after', '\nExample:\n  ferry fleet abandon --env tenants')
    .action(async () => {
      const out = processOutput(Boolean(globals().json));
      const r = await fleetAbandon(workspaceOptionsOf(globals()));
      out.line(r.abandoned ? `${pc.yellow('abandoned')} fleet run ${r.abandoned.runId} (${r.abandoned.command})` : `fleet ${r.fleet} has no unfinished run`);
      out.result(r);
    });
}
