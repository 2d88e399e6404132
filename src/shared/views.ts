import { statSync } from 'node:fs';
import path from 'node:path';
import { Eta } from 'eta';
import { paths } from './paths.js';

/** Server-rendered pages. Eta escapes every `<%= %>` by default, so user text never becomes HTML. */
export const views = new Eta({
  views: paths.views,
  cache: process.env.NODE_ENV !== 'development',
  autoEscape: true,
});

/**
 * `/build/<name>?v=<mtime>`: bundles are revalidated by version, so a deploy never leaves an
 * agent on yesterday's script while the HTML is new.
 */
export function assetUrl(name: string): string {
  try {
    const v = Math.floor(statSync(path.join(paths.public, 'build', name)).mtimeMs).toString(36);
    return `/build/${name}?v=${v}`;
  } catch {
    return `/build/${name}`;
  }
}
