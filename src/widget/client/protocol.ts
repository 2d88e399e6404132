// The postMessage vocabulary between the host page, embed.js and the widget iframe. Every message
// is posted to one named origin and accepted only from the expected window and origin.

/** Host page → embed.js (posted to its own window), and embed.js / host → widget iframe. */
export const OPEN = 'switchboard:open';
export const CLOSE = 'switchboard:close';
export const SET_NAME = 'switchboard:set_name';

/** Widget iframe → its parent. */
export const READY = 'switchboard:ready';
export const UNREAD = 'switchboard:unread';
/** The visitor closed the widget from inside (its close button, Escape). */
export const MINIMIZE = 'switchboard:minimize';

/** embed.js → host page (posted to the host's own window). */
export const OPENED = 'switchboard:opened';
export const CLOSED = 'switchboard:closed';

export type WireMessage = { type: string; count?: number; name?: string };

export function isWireMessage(data: unknown): data is WireMessage {
  return (
    typeof data === 'object' &&
    data !== null &&
    typeof (data as { type?: unknown }).type === 'string' &&
    (data as { type: string }).type.startsWith('switchboard:')
  );
}
