import type { CannedReply } from '../generated/prisma/client.js';

/** A canned reply as the API shows it; `editable`: the asking agent may change or delete it. */
export function cannedDto(c: CannedReply, editable: boolean) {
  return {
    id: c.id,
    scope: c.ownerId ? ('mine' as const) : ('tenant' as const),
    shortcut: c.shortcut,
    title: c.title,
    body: c.body,
    editable,
    created_at: c.createdAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
  };
}
export type CannedDto = ReturnType<typeof cannedDto>;
