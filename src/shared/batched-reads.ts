import DataLoader from 'dataloader';

/** The most ids one statement reads: a burst of thousands of joins is read in slices this big. */
const MAX_BATCH = 500;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads of one row per conversation id that arrive together share one statement (`dataloader`):
 * every read asked during one turn of the event loop — the joins of every socket whose data came
 * in that turn, thousands of them when a node restarts and its clients come back — is answered
 * by one `… WHERE id = ANY($1)`, so the database sees a few statements instead of one round trip
 * (and one write system call) per read. An idle node reads at once: the batch is sent at the end
 * of the turn it was asked in. Nothing is cached between turns: each read sees the rows as they
 * are. An id that is not a UUID is answered `null` without reaching the statement, so one bad id
 * cannot fail the reads it was batched with; a failed statement fails every read of its batch.
 */
export function batchedReads<V>(
  read: (ids: string[]) => Promise<Map<string, V>>,
): (id: string) => Promise<V | null> {
  const loader = new DataLoader<string, V | null>(
    async (ids) => {
      const valid = ids.filter((id) => UUID.test(id));
      const found = valid.length ? await read([...new Set(valid)]) : new Map<string, V>();
      return ids.map((id) => found.get(id.toLowerCase()) ?? found.get(id) ?? null);
    },
    { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: (run) => setImmediate(run) },
  );
  return (id) => loader.load(id);
}
