import type { ServeApp } from './context.js';

/** Mount the flag relay: the snapshot (with an ETag) and the stream of changes. */
export function mountRelay(_app: ServeApp): void {}
