import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root, found from this file whether it runs from src/ (tsx) or dist/ (bundled). */
function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the project root');
    dir = up;
  }
  return dir;
}

export const rootDir = findRoot();
export const paths = {
  migrations: path.join(rootDir, 'prisma', 'migrations'),
  views: path.join(rootDir, 'views'),
  public: path.join(rootDir, 'public'),
};
