import type { ServeApp } from '../context.js';

/** Mount the api routes. */
export function mountApi(_app: ServeApp): void {}
