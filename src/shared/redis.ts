import { createClient } from 'redis';

function create(url: string, connected: () => boolean) {
  return createClient({
    url,
    socket: {
      connectTimeout: 5000,
      reconnectStrategy: (retries) =>
        connected() ? Math.min(retries * 100, 3000) : new Error('unreachable'),
    },
  });
}

export type Redis = ReturnType<typeof create>;

/** Connects, failing fast when the server is unreachable at start-up, then reconnecting on drops. */
export async function connectRedis(url: string): Promise<Redis> {
  let connected = false;
  const client = create(url, () => connected);
  // Without a listener node-redis would throw on every transient error; readiness reports them.
  client.on('error', () => {});
  await client.connect();
  connected = true;
  return client;
}

/**
 * Closes a client without ever hanging: gracefully when Redis answers (pending replies are
 * read), at once when it is unreachable (a graceful close would wait for a reconnect forever).
 */
export async function closeRedis(client: Redis): Promise<void> {
  if (!client.isOpen) return;
  if (client.isReady) {
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
    await Promise.race([client.close().catch(() => {}), timeout]);
  }
  if (client.isOpen) client.destroy();
}
