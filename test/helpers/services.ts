import { createServices, type Services } from '../../src/services.js';
import type { Database } from '../../src/shared/db.js';
import { createEventBus, type DomainEvents, type EventBus, type EventName } from '../../src/shared/events.js';
import { testConfig } from './config.js';

/** Services over a test database, with a bus that also records every event published. */
export function servicesFor(database: Database): { services: Services; bus: EventBus; events: Recorded[] } {
  const events: Recorded[] = [];
  const inner = createEventBus((err) => {
    throw err;
  });
  const bus: EventBus = {
    publish(event, payload) {
      events.push({ event, payload } as Recorded);
      inner.publish(event, payload);
    },
    subscribe: inner.subscribe,
  };
  return { services: createServices({ database, config: testConfig(), bus }), bus, events };
}

export type Recorded = { [E in EventName]: { event: E; payload: DomainEvents[E] } }[EventName];

/** The `message.created` those services published for a message (what its node tells the others). */
export function createdEventOf(events: Recorded[], messageId: string): DomainEvents['message.created'] {
  const found = events.find(
    (e): e is Extract<Recorded, { event: 'message.created' }> =>
      e.event === 'message.created' && e.payload.message.id === messageId,
  );
  if (!found) throw new Error(`no message.created for ${messageId}`);
  return found.payload;
}
