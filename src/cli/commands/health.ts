import { type Command, Option } from 'commander';
import { FerryError } from '../../errors.js';
import { counts, type Decision, type DecisionMatrix, METRIC_NAMES } from '../../health/index.js';
import type { Migration } from '../../migration/loader.js';
import { parseHold } from '../../rollout/index.js';
import { type HealthReport, healthReport } from '../../workflow/health.js';
import { type CommandContext, type GlobalOptions, withDatabase } from '../context.js';
import { colourLabel, matrixLines } from '../health-output.js';
import { pc } from '../output.js';

/** `ferry health <id>`: the decision matrix of the current stage and the decision; the exit status is the colour. */
export function registerHealthCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('health')
    .description('the decision matrix of the current rollout stage (new cohort vs old), its colour and the decision')
    .argument('<id>', 'migration id')
    .addOption(
      new Option('--source <source>', 'metric source (default: prometheus when the manifest has health.prometheus, else sdk)').choices(['sdk', 'prometheus']),
    )
    .option('--window <duration>', "judge this long a window (default: the manifest's health.window, 5min), never before the stage began")
    .addHelpText(
      'after',
      '\nExit status: 0 green, 16 yellow, 17 red, 18 no data (too little traffic to judge).\n\nExamples:\n  ferry health split_full_name\n  ferry health split_full_name --json\n  ferry health split_full_name --source prometheus --window 10min',
    )
    .action(async (id: string, o: { source?: 'sdk' | 'prometheus'; window?: string }) => {
      const windowMs = o.window === undefined ? undefined : parseHold(o.window);
      if (o.window !== undefined && windowMs === undefined)
        throw new FerryError('E_USAGE', `--window "${o.window}" is not a duration`, 'write it like 30s, 5min or 1h');
      await withDatabase(globals(), id, 'health', async (ctx) => {
        const r = await healthReport(ctx.db, ctx.selected[0] as Migration, {
          ...(o.source === undefined ? {} : { source: o.source }),
          ...(windowMs === undefined ? {} : { windowMs }),
        });
        report(ctx, r);
      });
    });
}

/** The matrix and decision for people (or as JSON); a colour other than green is an error whose code is the exit status. */
function report(ctx: CommandContext, { matrix, decision, phase }: HealthReport): void {
  const out = ctx.out;
  out.line(
    `${pc.bold(matrix.migrationId)}  flag ${matrix.flag} at ${matrix.percentage} % (${phase ?? 'planned'})  source ${matrix.source}  window ${(matrix.window.ms / 1000).toFixed(1)}s`,
  );
  for (const l of matrixLines(matrix)) out.line(l);
  out.line(`${colourLabel(matrix.colour)}  decision: ${pc.bold(decision.action)}${decision.down ? ' + down' : ''} — ${decision.reason}`);
  if (!['canary', 'rolling', 'paused', 'rolled-out'].includes(phase ?? ''))
    out.line(pc.dim(`  (no rollout is running: ${matrix.migrationId} is ${phase ?? 'planned'}; the decision is what the controller would do)`));
  out.result({ matrix, decision });
  if (matrix.colour === 'green') return;
  const code = matrix.colour === 'yellow' ? 'E_HEALTH_YELLOW' : matrix.colour === 'red' ? 'E_HEALTH_RED' : 'E_HEALTH_NO_DATA';
  throw new FerryError(code, `health of ${matrix.migrationId} is ${matrix.colour}: ${decision.reason}`, hintFor(matrix, decision));
}

/** The fix for a colour that is not green; it follows the decision (red on latency alone pauses, per docs/health.md). */
function hintFor(m: DecisionMatrix, decision: Decision): string {
  if (m.colour === 'no-data')
    return `send traffic through the SDK's observe()/record() (or lower health.thresholds.minRequests), then run \`ferry health ${m.migrationId}\` again`;
  if (m.colour === 'red' && decision.action === 'pause') {
    const red = m.metrics.filter((v) => counts(v) && v.colour === 'red').map((v) => METRIC_NAMES[v.metric]);
    return `red on ${red.join(' and ')} alone is degraded, not severe: \`ferry rollout ${m.migrationId} run\` pauses here and resumes by itself once green again; investigate, or roll back on purpose with \`ferry flag set ${m.flag} false\``;
  }
  if (m.colour === 'yellow')
    return `\`ferry rollout ${m.migrationId} run\` pauses here; investigate, then \`ferry rollout ${m.migrationId} resume\` to accept it`;
  return `roll back: \`ferry flag set ${m.flag} false\` (quick), then \`ferry down ${m.migrationId}\` if data is involved`;
}
