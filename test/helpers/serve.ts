import { afterAll } from 'vitest';
import type { Queryable } from '../../src/db/database.js';
import { createFlags } from '../../src/sdk/index.js';
import { type RunningServer, type ServeOptions, startServer } from '../../src/server/index.js';
import type { TestTarget } from './databases.js';
import type { TestProject } from './project.js';

/** The token test servers use (at least 16 characters, as FERRY_SERVE_TOKEN must be). */
export const TEST_TOKEN = 'test-token-0123456789abcdef';

/** A response as a test reads it. */
export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** The parsed body when it is JSON (application/json or application/problem+json), else undefined. */
  json: T;
  text: string;
}

/** A running test server, with `request` for its API. */
export interface TestServer extends RunningServer {
  /** Send a request; `auth: true` adds the bearer token, `body` is sent as JSON. */
  request<T = unknown>(path: string, init?: { method?: string; body?: unknown; auth?: boolean; headers?: Record<string, string> }): Promise<ApiResponse<T>>;
}

const running: RunningServer[] = [];
afterAll(async () => {
  for (const s of running.splice(0)) await s.close().catch(() => {});
});

/** Start `ferry serve` on a free port for project `p` (closed after the file). */
export async function serveProject(p: TestProject, opts: Omit<ServeOptions, 'root'> = {}): Promise<TestServer> {
  const server = await startServer({ root: p.root, port: 0, token: TEST_TOKEN, actor: 'serve-test', ...opts });
  running.push(server);
  return Object.assign(server, {
    async request<T>(path: string, init: { method?: string; body?: unknown; auth?: boolean; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> {
      const headers: Record<string, string> = { ...init.headers };
      if (init.auth) headers.authorization = `Bearer ${TEST_TOKEN}`;
      if (init.body !== undefined) headers['content-type'] ??= 'application/json';
      const res = await fetch(`${server.url}${path}`, {
        method: init.method ?? 'GET',
        headers,
        ...(init.body === undefined ? {} : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
      });
      const text = await res.text();
      const type = res.headers.get('content-type') ?? '';
      const json = /json/.test(type) && text !== '' ? (JSON.parse(text) as T) : (undefined as T);
      return { status: res.status, headers: res.headers, json, text };
    },
  });
}

/**
 * Record SDK metrics for the split's flag (split-names) as an application would: 300 requests per cohort,
 * the new one with three errors, flushed to ferry.metrics in 1 s buckets.
 */
export async function recordSplitMetrics(target: TestTarget): Promise<void> {
  const app = await target.open();
  const flags = createFlags({ db: app }, { metrics: { flushIntervalMs: 60_000, bucketMs: 1000 } });
  try {
    for (let i = 0; i < 300; i++) {
      flags.record('split-names', `n${i}`, { latencyMs: 20 + (i % 10), cohort: 'new', error: i % 100 === 0 });
      flags.record('split-names', `o${i}`, { latencyMs: 20 + (i % 10), cohort: 'old' });
    }
    if (!(await flags.flush())) throw new Error('the SDK could not flush its metrics');
  } finally {
    await flags.close();
    await app.close();
  }
}

/** Every part of ferry's state an action of ferry serve could change, as one string: equal before and after means nothing changed. */
export async function actionState(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ d: string }>(
    `SELECT concat_ws(' | ',
       (SELECT count(*) || '/' || coalesce(max(id), 0) FROM ferry.events),
       (SELECT string_agg(key || ':' || enabled || ':' || percentage || ':' || version, ',' ORDER BY key) FROM ferry.flags),
       (SELECT string_agg(step_id || ':' || state, ',' ORDER BY step_id) FROM ferry.backfills),
       (SELECT string_agg(migration_id || ':' || percentage, ',' ORDER BY migration_id) FROM ferry.rollouts),
       (SELECT count(*) FROM ferry.approvals),
       (SELECT string_agg(id || ':' || phase, ',' ORDER BY id) FROM ferry.migrations)) AS d`,
  );
  return rows[0]?.d ?? '';
}
