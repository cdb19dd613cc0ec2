let installed = false;

/**
 * Let output into a pipe whose reader went away (`ferry … | head -3`, a pager
 * closed early) end quietly: the write error is dropped instead of crashing
 * with a stack trace, and the command still runs to its end, so a cut-off
 * listing never interrupts a migration half way.
 */
export function quietOnClosedPipes(): void {
  if (installed) return;
  installed = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
      throw err;
    });
  }
}
