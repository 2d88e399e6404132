import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RealtimeSocket } from '../../src/realtime/realtime.types.js';
import type { TestApp } from './app.js';

/**
 * The server loses the next `message_received` carrying `content` on its way to the sockets
 * `which` picks, as a broadcast lost while the Redis link was down is lost: stored, never
 * delivered live. Catch-up by `seq` must bring it back.
 */
export function loseNext(app: TestApp, which: (s: RealtimeSocket) => boolean, content: string) {
  const marker = `"content":${JSON.stringify(content)}`;
  for (const s of app.io.sockets.sockets.values()) {
    if (!which(s)) continue;
    const conn = s.conn as unknown as { write: (data: unknown, ...rest: unknown[]) => unknown };
    const write = conn.write.bind(conn);
    let lost = false;
    conn.write = (data, ...rest) => {
      if (!lost && typeof data === 'string' && data.includes('"message_received"') && data.includes(marker)) {
        lost = true;
        return conn;
      }
      return write(data, ...rest);
    };
  }
}

/**
 * A node of the cluster whose Redis keys start with `prefix` beat for the last time now, and never
 * again, as one killed right after its heartbeat: the live nodes find it silent three beats later,
 * reap it, and do what a lost node left undone (presence.ts, `onNodeLost`).
 */
export async function nodeDiesNow(prefix: string): Promise<void> {
  const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
  try {
    const [sec, micro] = await redis.time();
    const now = Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
    await redis.zadd(`${prefix}:presence:nodes`, now, randomUUID());
  } finally {
    redis.disconnect();
  }
}
