import { WebSocket, type ClientOptions } from 'ws';

export type Frame = { type: string; [k: string]: unknown };

export type WsClient = {
  ws: WebSocket;
  /** Every frame received, in order. */
  frames: Frame[];
  /** The next frame (not returned before) matching, waiting for it if need be. */
  next: (type: string, match?: (f: Frame) => boolean, timeoutMs?: number) => Promise<Frame>;
  send: (frame: unknown) => void;
  /** Resolves with the close code and reason, whoever closed. */
  closed: Promise<{ code: number; reason: string }>;
  close: () => void;
};

/** The WebSocket URL of the visitor endpoint on a test server. */
export function widgetWsUrl(
  baseUrl: string,
  query: Record<string, string | number>,
  path = '/api/v1/ws/widget',
) {
  const u = new URL(path, baseUrl.replace(/^http/, 'ws'));
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, String(v));
  return u.toString();
}

/**
 * A plain `ws` client of the visitor WebSocket. Resolves once the connection is open (a refused
 * one opens too, then closes with its code: see `closed`).
 */
export async function connectWs(url: string, opts: ClientOptions = {}): Promise<WsClient> {
  const ws = new WebSocket(url, opts);
  const frames: Frame[] = [];
  const taken = new Set<number>();
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as Frame);
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of [...waiters]) w();
    });
  });
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('ws did not open')), 10_000);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
    });
  });
  function next(type: string, match: (f: Frame) => boolean = () => true, timeoutMs = 10_000) {
    return new Promise<Frame>((resolve, reject) => {
      const check = () => {
        const i = frames.findIndex((f, n) => !taken.has(n) && f.type === type && match(f));
        if (i < 0) return false;
        taken.add(i);
        waiters.delete(check);
        clearTimeout(timer);
        resolve(frames[i]!);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `no '${type}' frame within ${timeoutMs} ms; got ${JSON.stringify(frames.map((f) => f.type))}`,
          ),
        );
      }, timeoutMs);
      if (!check()) waiters.add(check);
    });
  }
  return {
    ws,
    frames,
    next,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    closed,
    close: () => ws.close(),
  };
}
