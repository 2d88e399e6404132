import DataLoader from 'dataloader';

/** The most keys one statement reads: a burst of thousands of joins is read in slices this big. */
const MAX_BATCH = 500;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `id` is a UUID: anything else could fail the statement for the whole batch. */
export const isUuid = (id: string) => UUID.test(id);

/**
 * Reads that arrive together share one statement (`dataloader`): every read asked during one
 * turn of the event loop — the joins of every socket whose data came in that turn, thousands of
 * them when a node restarts and its clients come back — is answered by one statement over all
 * their keys, so the database sees a few statements instead of one round trip (and one write
 * system call) per read. An idle node reads at once: the batch is sent at the end of the turn it
 * was asked in. Nothing is cached between turns: each read sees the rows as they are. `read`
 * answers the keys in order (null: none); a key `valid` refuses is answered null without
 * reaching the statement, so one bad key cannot fail the reads it was batched with. A failed
 * statement fails every read of its batch.
 */
export function batchedReads<K, V>(
  read: (keys: K[]) => Promise<(V | null)[]>,
  valid: (key: K) => boolean = () => true,
): (key: K) => Promise<V | null> {
  const loader = new DataLoader<K, V | null>(
    async (keys) => {
      const asked = keys.filter(valid);
      const answers = asked.length ? await read(asked) : [];
      const byKey = new Map(asked.map((k, i) => [k, answers[i] ?? null]));
      return keys.map((k) => byKey.get(k) ?? null);
    },
    { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: (run) => setImmediate(run) },
  );
  return (key) => loader.load(key);
}

/** `batchedReads` of one row per id (a conversation's): `read` returns the rows it found by id. */
export function batchedReadsById<V>(read: (ids: string[]) => Promise<Map<string, V>>) {
  return batchedReads<string, V>(async (ids) => {
    const found = await read([...new Set(ids.map((id) => id.toLowerCase()))]);
    return ids.map((id) => found.get(id.toLowerCase()) ?? null);
  }, isUuid);
}
