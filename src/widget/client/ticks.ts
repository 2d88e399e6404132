// The widget's and the inbox's delivery ticks: <switchboard-chat>'s module, bundled from
// packages/chat-element (one implementation), with these pages' row conventions: an unsent row
// carries `data-pending`, one that failed to send the `cw-msg--failed` class.
import {
  createTicks as createElementTicks,
  type TicksOptions,
} from '../../../packages/chat-element/src/ticks.js';

export type { TickSnapshot, TickState, Ticks } from '../../../packages/chat-element/src/ticks.js';

export function createTicks(o: Omit<TicksOptions, 'isPending' | 'failedClass' | 'words'>) {
  return createElementTicks({
    ...o,
    isPending: (row) => row.dataset.pending !== undefined,
    failedClass: 'cw-msg--failed',
  });
}
