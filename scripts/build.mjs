// Production build: the server and CLI bundled for Node (dependencies stay in node_modules),
// and the browser bundles that pages load from public/build/.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const watch = process.argv.includes('--watch');
// `--browser`: only the browser bundles (what the tests need), not the server.
const browserOnly = process.argv.includes('--browser');
const common = { bundle: true, sourcemap: true, logLevel: 'warning' };

// The web widget: embed.js runs on customers' pages (old browsers too, so an old syntax target;
// one IIFE that defines nothing but window.SwitchboardChat), widget.js in the widget iframe.
const widgetBundle = {
  ...common,
  outdir: 'public/build',
  platform: 'browser',
  format: 'iife',
  minify: true,
  legalComments: 'none',
};
await Promise.all([
  build({ ...widgetBundle, entryPoints: { embed: 'src/widget/client/embed.ts' }, target: 'es2019' }),
  build({ ...widgetBundle, entryPoints: { widget: 'src/widget/client/widget.ts' }, target: 'es2020' }),
]);
// Served pre-compressed to browsers that accept gzip (the app itself does not compress).
for (const name of ['embed', 'widget']) {
  const file = `public/build/${name}.js`;
  writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9 }));
}

// <switchboard-chat> (packages/chat-element) for one script tag on tenants' sites, served from
// here (/build/switchboard-chat.js) so the console's snippet and its live preview use the same
// file; the client core from its source (the workspace's dist may not be built yet).
await build({
  ...widgetBundle,
  entryPoints: { 'switchboard-chat': 'packages/chat-element/src/index.ts' },
  target: 'es2020',
  alias: { '@switchboard/client-core': './packages/client-core/src/index.ts' },
});
writeFileSync(
  'public/build/switchboard-chat.js.gz',
  gzipSync(readFileSync('public/build/switchboard-chat.js'), { level: 9 }),
);
// uPlot's stylesheet, for the dashboard's usage charts (the library itself is in dashboard.js).
copyFileSync('node_modules/uplot/dist/uPlot.min.css', 'public/build/uplot.css');

// The agent inbox and the dashboard: ES modules for current browsers (pages load them with
// <script type="module">; no inline script, so the CSP stays strict). socket.io-client is bundled.
await build({
  ...common,
  entryPoints: { inbox: 'src/inbox/client/inbox.ts', dashboard: 'src/dashboard/client/dashboard.ts' },
  outdir: 'public/build',
  // Code the two share, and what a section loads on demand (the usage charts' uPlot), in chunks.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
});

if (!browserOnly)
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
