// The client core's size as shipped in a page: bundled and minified with esbuild, then gzipped.
// Prints {"bytes": <minified>, "gzip": <minified + gzipped>}; the benchmark records it.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import path from 'node:path';

const out = await build({
  entryPoints: [path.join(import.meta.dirname, 'src/index.ts')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  write: false,
  logLevel: 'silent',
});
const code = out.outputFiles[0].contents;
console.log(JSON.stringify({ bytes: code.length, gzip: gzipSync(code, { level: 9 }).length }));
