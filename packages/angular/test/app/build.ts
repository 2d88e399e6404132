// Bundles the test app with esbuild (JIT: decorators kept, templates compiled in the browser)
// against the built library in packages/angular/dist, as an application would import it.
import path from 'node:path';
import { build } from 'esbuild';

const pkg = path.resolve(import.meta.dirname, '../..');

/** The app's JavaScript, in memory. */
export async function buildTestApp(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(import.meta.dirname, 'main.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'silent',
    tsconfigRaw: { compilerOptions: { experimentalDecorators: true, useDefineForClassFields: false } },
    plugins: [
      {
        // The workspace link points at the package's sources; an app gets dist/ (what npm publishes).
        name: 'built-library',
        setup(b) {
          b.onResolve({ filter: /^@switchboard\/angular$/ }, () => ({
            path: path.join(pkg, 'dist/fesm2022/switchboard-angular.mjs'),
          }));
        },
      },
    ],
  });
  return result.outputFiles[0]!.text;
}
