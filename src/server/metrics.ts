import type { ServeApp } from './context.js';

/** `GET /metrics`: migration state for Prometheus. */
export function mountMetrics(app: ServeApp): void {
  app.get('/metrics', (c) => c.text('', 200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }));
}
