import { expect } from 'vitest';

/** One server-sent event: its name (default `message`), id and data. */
export interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/** An open server-sent event stream, read raw (Node has no EventSource). */
export interface SseStream {
  /** The next event (named `event` when given, skipping others); rejects after `timeoutMs` (default 10 s) or when the stream ends. */
  next(event?: string, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
}

/** Parse one SSE block (the lines between blank lines); undefined for a comment-only block (a keep-alive). */
function parseBlock(block: string): SseEvent | undefined {
  const lines = block.split('\n').filter((l) => l !== '' && !l.startsWith(':'));
  if (lines.length === 0) return undefined;
  const ev: SseEvent = { event: 'message', data: '' };
  const data: string[] = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') ev.event = value;
    else if (field === 'id') ev.id = value;
    else if (field === 'data') data.push(value);
  }
  ev.data = data.join('\n');
  return ev;
}

/** Open the stream at `url`: a background reader queues its events for `next`. */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const ac = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: ac.signal });
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const queue: SseEvent[] = [];
  let ended: Error | undefined;
  let notify: (() => void) | undefined;
  void (async () => {
    let text = '';
    try {
      for await (const chunk of (res.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream())) {
        text += chunk.replace(/\r\n?/g, '\n');
        for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
          const ev = parseBlock(text.slice(0, end));
          text = text.slice(end + 2);
          if (ev) queue.push(ev);
        }
        notify?.();
      }
      ended = new Error('the stream ended');
    } catch (err) {
      ended = err instanceof Error ? err : new Error(String(err));
    }
    notify?.();
  })();
  return {
    async next(event, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = queue.findIndex((e) => event === undefined || e.event === event);
        if (i >= 0) return queue.splice(0, i + 1).at(-1) as SseEvent;
        queue.length = 0;
        if (ended) throw new Error(`no ${event ?? 'event'} before the stream ended: ${ended.message}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${event ?? 'event'} within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          notify = () => {
            clearTimeout(t);
            resolve();
          };
        });
        notify = undefined;
      }
    },
    close: () => ac.abort(),
  };
}

/** The first event of a new stream at `url`. */
export async function firstEvent(url: string, headers: Record<string, string> = {}): Promise<SseEvent> {
  const stream = await openSse(url, headers);
  try {
    return await stream.next();
  } finally {
    stream.close();
  }
}
