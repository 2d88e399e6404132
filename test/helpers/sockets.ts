import { io as connectClient, type Socket } from 'socket.io-client';

export type Ack = { ok: boolean; error?: string; message?: unknown; [k: string]: unknown };

/**
 * A real Socket.IO client over WebSocket. `cookie` makes it an agent (the session cookie of
 * `loginAgent`); without it, it is an anonymous end user. Resolves once connected.
 */
export async function connectSocket(
  url: string,
  opts: { cookie?: string; origin?: string; reconnection?: boolean; auth?: Record<string, unknown> } = {},
): Promise<Socket> {
  const headers: Record<string, string> = {};
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.origin) headers.origin = opts.origin;
  const socket = connectClient(url, {
    transports: ['websocket'],
    extraHeaders: headers,
    ...(opts.auth ? { auth: opts.auth } : {}),
    reconnection: opts.reconnection ?? false,
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
    forceNew: true,
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('socket did not connect')), 10_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return socket;
}

/** Emits with an acknowledgement callback and resolves with the server's answer. */
export function emitAck(socket: Socket, event: string, ...payload: unknown[]): Promise<Ack> {
  return socket.timeout(10_000).emitWithAck(event, ...payload) as Promise<Ack>;
}

/** Everything a socket receives of one event, in order. */
export function record<T = Record<string, unknown>>(socket: Socket, event: string): T[] {
  const seen: T[] = [];
  socket.on(event, (payload: T) => seen.push(payload));
  return seen;
}

/** The next `event` matching `match`, or a rejection after `timeoutMs`. */
export function nextEvent<T = Record<string, unknown>>(
  socket: Socket,
  event: string,
  match: (payload: T) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const listener = (payload: T) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve(payload);
    };
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`no '${event}' within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on(event, listener);
  });
}

/** Waits until `check` holds (polling), for state that arrives asynchronously. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
