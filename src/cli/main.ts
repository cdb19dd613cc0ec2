import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { EXIT_CODES, FerryError } from '../errors.js';
import { registerBackfillCommand } from './commands/backfill.js';
import { registerCheckCommand } from './commands/check.js';
import { registerCleanupCommands } from './commands/cleanup.js';
import { registerConsumerCommands } from './commands/consumers.js';
import { registerDocumentCommands } from './commands/documents.js';
import { registerDriftCommands } from './commands/drift.js';
import { registerFlagCommands } from './commands/flag.js';
import { registerFleetCommands } from './commands/fleet.js';
import { registerHealthCommand } from './commands/health.js';
import { registerImportCommand } from './commands/import.js';
import { registerInspectCommands } from './commands/inspect.js';
import { registerLifecycleCommands } from './commands/lifecycle.js';
import { registerLintCommand } from './commands/lint.js';
import { registerProjectCommands } from './commands/project.js';
import { registerRolloutCommands } from './commands/rollout.js';
import { registerRunCommands } from './commands/run.js';
import { registerSchemaCommand } from './commands/schema.js';
import { registerServeCommand } from './commands/serve.js';
import { registerTicketCommands } from './commands/tickets.js';
import type { GlobalOptions } from './context.js';
import { processOutput, startOutput } from './output.js';
import { quietOnClosedPipes } from './pipes.js';
import { syncTicketsAfter } from './ticket-sync.js';
import { unknownCommandIn, usageErrorOf, wantsJson } from './usage.js';

const VERSION = '0.1.0';

/** `--lock-wait`: a duration as in the config ("500ms", "30s", "2min"), refused as a usage error naming the flag. */
function lockWaitArgument(text: string): string {
  if (!/^\d+(ms|s|min)$/.test(text)) throw new InvalidArgumentError('write a duration like 500ms, 30s or 2min (whole numbers; ms, s or min)');
  return text;
}

/** The command a commander error came from, for its `--help` hint. */
const failedCommand = new WeakMap<CommanderError, Command>();

/** Every command of the tree, the program first. */
function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

/**
 * The `ferry` command tree; every subcommand takes the global options. With
 * `json`, commander's own error text is held back: main prints the JSON error
 * document instead.
 */
export function buildProgram(json = false): Command {
  const program = new Command('ferry')
    .description('Run breaking changes and data migrations on PostgreSQL safely: planned, reversible, verified.')
    .version(VERSION)
    .option('--env <name>', 'environment from ferry.config.json (default: its defaultEnv, usually "local")')
    .option('--json', 'print one JSON document for scripts instead of text')
    .option('--project <dir>', 'project folder (default: the nearest folder with ferry.config.json)')
    .option('--lock-wait <duration>', 'how long to wait for another runner, e.g. 10s (default: config lockWait)', lockWaitArgument)
    .option('--by <name>', 'who is acting, for the event log (default: $FERRY_ACTOR or user@host)')
    .option('--debug', 'print stack traces')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => (json ? undefined : process.stderr.write(s)) })
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 internal error, 2 usage, 3 config, 4 manifest, 5 not found, 6 connection,\n7 locked, 8 drift, 9 gate, 10 point of no return, 11 step failed, 12 verify, 13 rehearsal,\n14 backfill, 15 lint findings refused,\n16 health yellow, 17 health red (or rolled back by the controller), 18 no data (too little traffic to judge),\n19 data loss refused, 20 fleet run stopped or finished with failed databases.',
    );
  const globals = () => program.opts<GlobalOptions>();
  registerProjectCommands(program, globals);
  registerRunCommands(program, globals);
  registerInspectCommands(program, globals);
  registerDriftCommands(program, globals);
  registerLintCommand(program, globals);
  registerCheckCommand(program, globals);
  registerLifecycleCommands(program, globals);
  registerBackfillCommand(program, globals);
  registerFlagCommands(program, globals);
  registerRolloutCommands(program, globals);
  registerHealthCommand(program, globals);
  registerDocumentCommands(program, globals);
  registerConsumerCommands(program, globals);
  registerCleanupCommands(program, globals);
  registerTicketCommands(program, globals);
  registerImportCommand(program, globals);
  registerFleetCommands(program, globals);
  registerSchemaCommand(program, globals);
  registerServeCommand(program, globals);
  program.hook('postAction', (_program, command) => syncTicketsAfter(globals(), command));
  for (const c of allCommands(program)) {
    c.exitOverride((err) => {
      failedCommand.set(err, c);
      throw err;
    }).showHelpAfterError('(run with --help for usage)');
  }
  return program;
}

/** Run the CLI with `argv`; resolves to the exit status (see EXIT_CODES in errors.ts). */
export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipes();
  startOutput();
  const json = wantsJson(argv.slice(2));
  const program = buildProgram(json);
  try {
    const unknown = unknownCommandIn(program, argv.slice(2));
    if (unknown) throw unknown;
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    const g = program.opts<GlobalOptions>();
    const out = processOutput(json || Boolean(g.json));
    if (err instanceof CommanderError) {
      const help = err.code === 'commander.helpDisplayed' || err.code === 'commander.help';
      if (err.code === 'commander.version' || (help && err.exitCode === 0)) return 0;
      // In text mode commander has already printed the message and the usage hint (or the help, for a missing command).
      if (json) out.error(usageErrorOf(err, failedCommand.get(err)), false);
      return EXIT_CODES.E_USAGE;
    }
    if (err instanceof FerryError) {
      out.error(err, Boolean(g.debug));
      return EXIT_CODES[err.code];
    }
    const internal = new FerryError(
      'E_INTERNAL',
      `unexpected error: ${err instanceof Error ? err.message : String(err)}`,
      'this is a bug in ferry; rerun with --debug and report it',
    );
    if (err instanceof Error && err.stack) internal.stack = err.stack;
    out.error(internal, Boolean(g.debug));
    return EXIT_CODES.E_INTERNAL;
  }
}
