import { randomUUID } from 'node:crypto';
import type { Attachment, SenderType } from '../generated/prisma/client.js';
import type { Db } from '../shared/db.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { sniff } from './sniff.js';
import type { Storage } from './storage.js';
import { attachmentIdOf, canonicalUrl, signUrl } from './urls.js';

/** A tenant's limit when its `config.attachment_max_bytes` says nothing (capped by ATTACHMENT_MAX_BYTES). */
export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;

/** Who sends a file into which conversation; the route has proven it. */
export type UploadOwner = {
  organizationId: string;
  conversationId: string;
  /** `system` for the tenant's backend (the signed API). */
  uploaderType: Extract<SenderType, 'agent' | 'end_user' | 'system'>;
  uploaderId: string;
};

export type AttachmentService = ReturnType<typeof createAttachmentService>;

export const tooLarge = (max: number) =>
  new AppError('attachment/too_large', `Attachments may be at most ${max} bytes`, { max_bytes: max });

/** A name safe to keep and show: no path, no control characters, at most 255 characters. */
export function cleanFilename(raw: string | undefined): string {
  let name = raw ?? '';
  try {
    name = decodeURIComponent(name);
  } catch {
    // Not URI-encoded after all: kept as sent.
  }
  name = (name.split(/[/\\]/).pop() ?? '')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069"]/g, '')
    .trim()
    .replace(/^\.+/, '');
  return (name || 'file').slice(0, 255);
}

/** The answer to an upload (the `image`/`file` rich media a message then carries). */
export function attachmentDto(a: Attachment, publicUrl: string) {
  const url = canonicalUrl(publicUrl, a.id, a.filename);
  return {
    id: a.id,
    /** What a message names (unsigned: every copy that leaves the server is signed then). */
    url,
    /** A signed link to show the uploader their file at once (an hour, as every download link). */
    preview_url: signUrl(url),
    filename: a.filename,
    content_type: a.contentType,
    size: a.size,
    kind: a.contentType.startsWith('image/') ? ('image' as const) : ('file' as const),
  };
}

/** Files sent from devices: the size each tenant allows, the type the bytes prove, the bytes' storage. */
export function createAttachmentService({
  db,
  storage,
  maxBytes,
  logger,
}: {
  db: Db;
  storage: Storage;
  /** The platform's cap (ATTACHMENT_MAX_BYTES). */
  maxBytes: number;
  logger?: Logger | undefined;
}) {
  return {
    storage,

    /** The organization's limit: its `config.attachment_max_bytes`, default 10 MB, never above the cap. */
    async limitFor(organizationId: string): Promise<number> {
      const org = await db.organization.findUnique({
        where: { id: organizationId },
        select: { config: true },
      });
      const own = (org?.config as { attachment_max_bytes?: unknown } | null)?.attachment_max_bytes;
      const wanted = typeof own === 'number' && Number.isInteger(own) && own > 0 ? own : DEFAULT_MAX_BYTES;
      return Math.min(wanted, maxBytes);
    },

    /** Stores the bytes under a fresh id once their type is proven; `attachment/type` (415) otherwise. */
    async create(owner: UploadOwner, filename: string, bytes: Buffer): Promise<Attachment> {
      if (bytes.length === 0) throw new AppError('request/invalid', 'The file is empty');
      const type = await sniff(bytes, filename);
      if (!type) {
        throw new AppError(
          'attachment/type',
          'This kind of file cannot be sent: images (PNG, JPEG, GIF, WebP), PDF, ZIP, Office documents, text and CSV can',
        );
      }
      const id = randomUUID();
      const storageKey = `${owner.organizationId}/${id}`;
      await storage.put(storageKey, bytes, type.contentType);
      try {
        return await db.attachment.create({
          data: { id, ...owner, filename, contentType: type.contentType, size: bytes.length, storageKey },
        });
      } catch (err) {
        // Nothing half-kept: the bytes go when their row could not be written.
        await storage
          .delete(storageKey)
          .catch((e: unknown) => logger?.warn({ err: e }, 'attachment cleanup failed'));
        throw err;
      }
    },

    /**
     * The stored files of an organization about to be deleted: `purge()` removes them once the
     * rows are gone (the database cascades rows, not bytes). Best effort: a failure is logged.
     */
    async filesOf(organizationId: string) {
      const rows = await db.attachment.findMany({ where: { organizationId }, select: { storageKey: true } });
      const keys = rows.map((r) => r.storageKey);
      return {
        count: keys.length,
        purge: async () => {
          for (const key of keys) {
            await storage
              .delete(key)
              .catch((err: unknown) => logger?.warn({ err, key }, 'attachment purge failed'));
          }
        },
      };
    },

    /** The attachment and its bytes, for a download whose signature was checked. */
    async open(id: string) {
      const a = await db.attachment.findUnique({ where: { id } });
      if (!a) throw new AppError('attachment/not_found', 'Attachment not found');
      return { attachment: a, ...(await storage.get(a.storageKey)) };
    },
  };
}

/**
 * A message naming an attachment (`…/files/{id}/…` in an image's or a file's url, or a carousel
 * card's image) may be sent
 * only into the conversation the attachment was uploaded to: another conversation's or tenant's
 * link cannot be re-sent, so its bytes cannot travel. Other URLs are the sender's business.
 */
export async function requireOwnAttachment(
  db: Db,
  conversationId: string,
  contentType: string,
  richMedia: Record<string, unknown> | null | undefined,
): Promise<void> {
  const ids = new Set(attachmentIdsOf(contentType, richMedia));
  if (!ids.size) return;
  const found = await db.attachment.findMany({
    where: { id: { in: [...ids] } },
    select: { conversationId: true },
  });
  if (found.length !== ids.size || found.some((a) => a.conversationId !== conversationId)) {
    throw new AppError('attachment/forbidden', 'This attachment does not belong to this conversation');
  }
}

/** The attachments a message names: an image's or a file's url, a carousel's card images. */
function attachmentIdsOf(
  contentType: string,
  richMedia: Record<string, unknown> | null | undefined,
): string[] {
  if (contentType === 'image' || contentType === 'file') {
    const id = attachmentIdOf(richMedia?.url);
    return id ? [id] : [];
  }
  if (contentType !== 'carousel' || !Array.isArray(richMedia?.cards)) return [];
  return (richMedia.cards as { image_url?: unknown }[])
    .map((c) => attachmentIdOf(c?.image_url))
    .filter((id): id is string => id !== null);
}
