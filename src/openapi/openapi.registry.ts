import type { ZodType } from 'zod';

/**
 * How an operation is authenticated:
 * - `session`: the agent's `session` cookie, plus `X-CSRFToken` on state-changing methods;
 * - `admin`: `X-Admin-Key` (provisioning);
 * - `hmac`: HMAC#1, the four `X-Relay-*` headers (docs/hmac.md);
 * - `visitor`: the relay's visitor token as `Authorization: Bearer`;
 * - `none`: public (the widget's end user proves who they are in the request itself).
 */
export type Security = 'none' | 'session' | 'admin' | 'hmac' | 'visitor';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** One documented operation; its shapes are the very zod schemas its route validates with. */
export type Operation = {
  method: Method;
  /** The full mounted path, parameters as `{name}`. */
  path: string;
  tag: string;
  summary: string;
  security: Security;
  params?: ZodType;
  query?: ZodType;
  body?: ZodType;
  /** The body is the file's raw bytes (uploads), whatever its Content-Type. */
  upload?: boolean;
  /** The body may also come as an HTML form (`application/x-www-form-urlencoded`). */
  form?: boolean;
  /** The success status; 200 unless said. */
  status?: number;
  /** What the success answer is. */
  returns?: string;
  /** The answer's shape, where a zod schema for it exists. */
  response?: ZodType;
  /** The relay's envelope `{status_code, data, message}` wraps every answer, errors included. */
  envelope?: boolean;
  /** The answer is not JSON (a script, a redirect). */
  contentType?: string;
};
