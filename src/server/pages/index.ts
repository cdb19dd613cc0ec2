import type { ServeApp } from '../context.js';

/** Mount the pages routes. */
export function mountPages(_app: ServeApp): void {}
