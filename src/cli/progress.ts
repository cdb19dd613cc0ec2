import cliProgress from 'cli-progress';
import pc from 'picocolors';
import { type BackfillProgress, describePacing } from '../backfill/index.js';

const eta = (s: number | null) => (s === null ? '?' : s < 90 ? `${Math.round(s)}s` : s < 5400 ? `${Math.round(s / 60)}min` : `${(s / 3600).toFixed(1)}h`);

/** The pacer's decision for the progress output: budget and measured impact; yellow when the budget cannot be met. */
function pacingNote(p: BackfillProgress): string {
  if (!p.pacing) return '';
  const note = `, ${describePacing(p.pacing)}`;
  return p.pacing.state === 'minimum' ? pc.yellow(note) : note;
}

/** One plain line of a backfill's progress, for logs and non-TTY output. */
export function backfillLine(p: BackfillProgress): string {
  const pct = p.rowsTotal > 0 ? ` (${((100 * p.rowsDone) / p.rowsTotal).toFixed(1)} %)` : '';
  const throttle = p.throttledBy ? pc.yellow(` throttled: ${p.throttledBy}`) : '';
  return `  backfill ${p.migrationId}/${p.stepId} ${p.state}: ${p.rowsDone}/${p.rowsTotal} rows${pct}, ${Math.round(p.ratePerSec)} rows/s, ETA ${eta(p.etaSeconds)}, batch ${p.batchSize} (${Math.round(p.lastBatchMs)} ms), ranges ${p.rangesDone}/${p.rangesTotal}${pacingNote(p)}${throttle}`;
}

/**
 * Shows backfill progress: a bar with rows, rate and ETA on a TTY; a plain line
 * every `everyMs` (and on every change of state) otherwise.
 */
export function backfillDisplay(write: (line: string) => void, tty: boolean, everyMs = 5000): { update(p: BackfillProgress): void; stop(): void } {
  let bar: cliProgress.SingleBar | undefined;
  let lastLine = 0;
  let lastState = '';
  return {
    update(p) {
      if (tty) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              format: `  backfill ${p.stepId} [{bar}] {percentage}% {value}/{total} rows | {rate} rows/s | ETA {eta_h} | {note}`,
              hideCursor: true,
              etaBuffer: 50,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(Math.max(p.rowsTotal, p.rowsDone, 1), p.rowsDone, { rate: 0, eta_h: '?', note: '' });
        }
        bar.setTotal(Math.max(p.rowsTotal, p.rowsDone, 1));
        bar.update(p.rowsDone, {
          rate: Math.round(p.ratePerSec),
          eta_h: eta(p.etaSeconds),
          note: p.throttledBy ? `throttled: ${p.throttledBy}` : p.pacing ? describePacing(p.pacing) : p.state,
        });
        if (p.state !== 'running') this.stop();
        return;
      }
      const now = Date.now();
      if (now - lastLine >= everyMs || p.state !== lastState) {
        write(backfillLine(p));
        lastLine = now;
        lastState = p.state;
      }
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
