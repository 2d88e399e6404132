/**
 * Calls `fn` on every item, `size` at a time, a slice every `gapMs` (the first at once): thousands
 * of clients told to catch up in one moment would all ask the database in that moment.
 */
export function inSlices<T>(items: readonly T[], size: number, gapMs: number, fn: (item: T) => void): void {
  for (let i = 0; i < items.length; i += size) {
    const slice = items.slice(i, i + size);
    setTimeout(
      () => {
        for (const item of slice) fn(item);
      },
      (i / size) * gapMs,
    ).unref();
  }
}
