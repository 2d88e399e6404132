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
/** The widget config a preview draws (as \`GET /api/v1/fetch/widget-config\` answers it). */
export type WidgetConfig = {
  tenant_id: string;
  tenant_name: string;
  is_online: boolean;
  locale: string;
  branding: Record<string, string | number | boolean>;
  offline_behaviour?: 'message' | 'hide';
};
/**
 * <switchboard-chat tenant-id widget-key base-url locale mode preview>. With the \`preview\`
 * attribute the element never touches the network (no config fetched, no session, nothing sent):
 * it draws what \`preview(config)\` gives it.
 */
export declare class SwitchboardChat extends HTMLElement {
  static observedAttributes: string[];
  readonly mode: ChatMode;
  readonly state: ConnectionState;
  readonly opened: boolean;
  /** Whether the \`preview\` attribute is set. */
  readonly isPreview: boolean;
  open(): void;
  close(): void;
  send(text: string): string | undefined;
  /** Draws this config (title, colour, launcher text, greeting, avatar, online or offline), without a session. */
  preview(config: WidgetConfig): void;
}
export declare function defineSwitchboardChat(name?: string): void;
declare global {
  interface HTMLElementTagNameMap {
    'switchboard-chat': SwitchboardChat;
  }
}
`,
);
