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
