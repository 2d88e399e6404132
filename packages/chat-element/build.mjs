// Builds the element with esbuild: dist/index.js (ESM, for bundlers) and dist/switchboard-chat.js
// (an IIFE for one <script> tag), both minified and with the client core inside. The core is
// taken from its source: workspaces build alphabetically, so its dist may not exist yet.
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const here = import.meta.dirname;
const common = {
  entryPoints: [path.join(here, 'src/index.ts')],
  bundle: true,
  minify: true,
  sourcemap: true,
  target: 'es2020',
  alias: { '@switchboard/client-core': path.join(here, '../client-core/src/index.ts') },
  logLevel: 'warning',
};
mkdirSync(path.join(here, 'dist'), { recursive: true });
await build({ ...common, format: 'esm', outfile: path.join(here, 'dist/index.js') });
await build({ ...common, format: 'iife', outfile: path.join(here, 'dist/switchboard-chat.js') });
// The types of the public surface (the core's types are the core package's).
writeFileSync(
  path.join(here, 'dist/index.d.ts'),
  `export type ChatMode = 'launcher' | 'panel' | 'thread';
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';
/** <switchboard-chat tenant-id widget-key base-url locale mode>. */
export declare class SwitchboardChat extends HTMLElement {
  static observedAttributes: string[];
  readonly mode: ChatMode;
  readonly state: ConnectionState;
  readonly opened: boolean;
  open(): void;
  close(): void;
  send(text: string): string | undefined;
}
export declare function defineSwitchboardChat(name?: string): void;
declare global {
  interface HTMLElementTagNameMap {
    'switchboard-chat': SwitchboardChat;
  }
}
`,
);
