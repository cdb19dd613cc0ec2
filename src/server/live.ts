import { z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { StateTopic } from '../workflow/watch.js';
import type { ChangeHub, ServeApp } from './context.js';

/** How often an idle stream sends a comment, so proxies keep it open and a closed page is noticed. */
const KEEPALIVE_MS = 15_000;

/** A {@link ChangeHub} fed by `publish`. */
export function changeHub(): ChangeHub & { publish(topics: ReadonlySet<StateTopic>): void } {
  const subs = new Set<(topics: ReadonlySet<StateTopic>) => void>();
  return {
    subscribe(fn) {
      subs.add(fn);
      return () => subs.delete(fn);
    },
    get size() {
      return subs.size;
    },
    publish(topics) {
      for (const fn of subs) {
        try {
          fn(topics);
        } catch {
          // One broken subscriber must not stop the others.
        }
      }
    },
  };
}

/**
 * `GET /api/v1/stream`: server-sent events for open pages. Each change of ferry's state is one
 * `change` event whose data is `{"topics":[…],"at":"…"}`; pages refresh what they show.
 */
export function mountLiveStream(app: ServeApp): void {
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/api/v1/stream',
    summary: 'Live updates: server-sent events, one `change` event ({"topics":[…],"at":"…"}) per change of ferry’s state',
    responses: {
      200: {
        description: 'an endless event stream: `hello` on connect, then `change` events; comments keep it alive',
        content: { 'text/event-stream': { schema: z.string() } },
      },
    },
  });
  app.get('/api/v1/stream', (c) => {
    const hub = c.get('ctx').hub;
    return streamSSE(c, async (stream) => {
      let wake: (() => void) | undefined;
      const queue: string[] = [];
      const off = hub.subscribe((topics) => {
        queue.push(JSON.stringify({ topics: [...topics].sort(), at: new Date().toISOString() }));
        wake?.();
      });
      stream.onAbort(() => {
        off();
        wake?.();
      });
      await stream.writeSSE({ event: 'hello', data: JSON.stringify({ at: new Date().toISOString() }), retry: 1000 });
      while (!stream.aborted) {
        const data = queue.shift();
        if (data !== undefined) {
          await stream.writeSSE({ event: 'change', data });
          continue;
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, KEEPALIVE_MS);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = undefined;
        if (!queue.length && !stream.aborted) await stream.write(': keep-alive\n\n');
      }
      off();
    });
  });
}
