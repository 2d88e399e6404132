import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { AppError } from '../shared/errors.js';

/**
 * Whether an address is on the public internet: not loopback, private (RFC 1918, unique local),
 * link-local (cloud metadata services live there), carrier-grade NAT, multicast, reserved or
 * unspecified. IPv4 inside IPv6 (`::ffff:127.0.0.1`) is judged as the IPv4 address.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'unicast';
}

const refused = (why: string) =>
  new AppError(
    'webhook/url_refused',
    `Callback URL refused: ${why}. Webhooks go to public addresses only (a deployment may allow private ones with WEBHOOK_ALLOW_PRIVATE=true)`,
  );

/**
 * A callback base URL as stored: http(s), no credentials, no query or fragment, no trailing slash.
 * A host that is an address, or `localhost`, must be public unless `allowPrivate`; a name is
 * checked again, resolved, on every delivery (`guardedLookup`).
 */
export function normalizeCallbackUrl(raw: string, allowPrivate: boolean): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError('request/invalid', "Invalid parameter 'callback_base_url': must be an absolute URL", {
      param: 'callback_base_url',
    });
  }
  const bad = (why: string) =>
    new AppError('request/invalid', `Invalid parameter 'callback_base_url': ${why}`, {
      param: 'callback_base_url',
    });
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw bad('must be an http(s) URL');
  if (url.username || url.password) throw bad('must not carry credentials');
  if (url.search || url.hash) throw bad('must not have a query or a fragment');
  if (!allowPrivate) {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (host === 'localhost' || host.endsWith('.localhost')) throw refused(`${host} is loopback`);
    if (ipaddr.isValid(host) && !isPublicAddress(host)) throw refused(`${host} is not a public address`);
  }
  return url.toString().replace(/\/+$/, '');
}

/**
 * `lookup` for `http.request`: resolves the host and refuses to connect when any of its addresses
 * is not public (so a name that resolves to 10.0.0.5, or re-resolves to it after the URL was
 * saved, reaches nothing). With `allowPrivate` it is the plain lookup.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const blocked = allowPrivate ? undefined : addresses.find((a) => !isPublicAddress(a.address));
      if (blocked) {
        const e = Object.assign(
          new Error(`${hostname} resolves to ${blocked.address}, not a public address`),
          {
            code: 'EADDRREFUSED',
          },
        );
        return callback(e, '', 0);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first)
        return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}
