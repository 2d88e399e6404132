import { z } from 'zod';

export const uuid = z.uuid({ error: 'must be a UUID' });

/** `{ id }` route parameters. */
export const idParams = z.object({ id: uuid });

/** The id an end user is known by (a widget visitor id, an app's user id). */
export const externalId = z.string().trim().min(1, 'must not be empty').max(255);

/** Who writes on the chat gateways: the two kinds of client. */
export const senderType = z.enum(['end_user', 'agent'], { error: 'must be end_user or agent' });

/** A queue (store, merchant) a conversation routes to. */
export const routingKey = z.string().trim().min(1).max(100);

/** `scheme://host[:port]`, no path: what browsers send in Origin (also app schemes such as `app://x`). */
export const origin = z
  .string()
  .trim()
  .max(255)
  .transform((v, ctx) => {
    try {
      const u = new URL(v);
      const host = u.host;
      if (!host || (u.pathname !== '' && u.pathname !== '/') || u.search || u.hash || u.username)
        throw new Error();
      return `${u.protocol}//${host}`;
    } catch {
      ctx.addIssue({ code: 'custom', message: `'${v}' is not an origin such as https://example.com` });
      return z.NEVER;
    }
  });

export const origins = z.array(origin).max(100).default([]);

export const displayName = z.string().trim().min(1).max(120);
