import { createHmac, timingSafeEqual } from 'node:crypto';

/** A download link lives this long (rounded up to the next 10 minutes, so a page's links stay cacheable). */
export const URL_TTL_S = 3600;
const ROUND_S = 600;

/** `/files/{id}/{filename}`: the path of every attachment, wherever a message names it. */
const FILES_PATH = /^\/files\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/[^/?#]+$/i;

type Signer = { publicUrl: () => string; key: Buffer; now: () => number };
let signer: Signer | undefined;

/**
 * Sets what signs download links: the public URL (read each time: it is the configuration's) and
 * a key derived from the session secret every node shares. The app calls it once at start.
 */
export function configureAttachmentUrls(opts: {
  publicUrl: () => string;
  sessionSecret: string;
  now?: (() => number) | undefined;
}): void {
  signer = {
    publicUrl: opts.publicUrl,
    key: createHmac('sha256', opts.sessionSecret).update('attachment-url').digest(),
    now: opts.now ?? Date.now,
  };
}

/** The attachment id a URL points at (`…/files/{id}/{name}`), or null for any other URL. */
export function attachmentIdOf(url: unknown): string | null {
  if (typeof url !== 'string') return null;
  try {
    return FILES_PATH.exec(new URL(url).pathname)?.[1]?.toLowerCase() ?? null;
  } catch {
    return null;
  }
}

/** The URL a message stores: unsigned, on the public URL. */
export function canonicalUrl(publicUrl: string, id: string, filename: string): string {
  return `${publicUrl}/files/${id}/${encodeURIComponent(filename)}`;
}

const mac = (key: Buffer, id: string, exp: number) =>
  createHmac('sha256', key).update(`${id.toLowerCase()}\n${exp}`).digest('base64url');

/** A signed, expiring download URL for a canonical one; any other URL unchanged. */
export function signUrl(url: string): string {
  const id = attachmentIdOf(url);
  if (!id || !signer) return url;
  const name = new URL(url).pathname.split('/')[3]!;
  const exp = Math.ceil((signer.now() / 1000 + URL_TTL_S) / ROUND_S) * ROUND_S;
  // Rebased on the public URL as configured now: stored links follow a move of the domain.
  return `${signer.publicUrl()}/files/${id}/${name}?exp=${exp}&sig=${mac(signer.key, id, exp)}`;
}

/** Whether `sig` signs this id until `exp`, and `exp` has not passed. */
export function verifySignature(id: string, exp: unknown, sig: unknown): boolean {
  if (!signer || typeof exp !== 'string' || typeof sig !== 'string' || !/^\d{1,12}$/.test(exp)) return false;
  const expires = Number(exp);
  if (expires * 1000 < signer.now()) return false;
  const want = Buffer.from(mac(signer.key, id, expires));
  const got = Buffer.from(sig);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** A message's rich media with its attachment links signed, for anything that leaves the server. */
export function signRichMedia<T>(contentType: string, richMedia: T): T {
  if (!richMedia || typeof richMedia !== 'object') return richMedia;
  if (contentType === 'carousel') {
    const cards = (richMedia as { cards?: unknown }).cards;
    if (!Array.isArray(cards)) return richMedia;
    const signed = cards.map((c: unknown) => {
      const image = (c as { image_url?: unknown } | null)?.image_url;
      return typeof image === 'string' && attachmentIdOf(image)
        ? { ...(c as object), image_url: signUrl(image) }
        : c;
    });
    return { ...richMedia, cards: signed };
  }
  if (contentType !== 'image' && contentType !== 'file') return richMedia;
  const url = (richMedia as { url?: unknown }).url;
  if (typeof url !== 'string' || !attachmentIdOf(url)) return richMedia;
  return { ...richMedia, url: signUrl(url) };
}
