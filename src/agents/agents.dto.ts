import type { User } from '../generated/prisma/client.js';

/** Emails are shown to admins only; agents see who is on the team, not how to reach them. */
export function memberDto(u: User, withEmail: boolean) {
  return {
    id: u.id,
    display_name: u.displayName,
    role: u.role,
    status: u.status,
    /** The queues they are restricted to; empty: every queue (admins and owners see all anyway). */
    routing_keys: u.routingKeys,
    /** An operator whose identity the tenant's backend vouches for (signed API): no password here. */
    delegated: u.externalId !== null,
    ...(withEmail
      ? {
          email: u.email,
          last_login_at: u.lastLoginAt?.toISOString() ?? null,
          /** The backend's own id of a delegated operator. */
          external_id: u.externalId,
        }
      : {}),
    created_at: u.createdAt.toISOString(),
  };
}
