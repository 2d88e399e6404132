import { fileTypeFromBuffer } from 'file-type';

export type Sniffed = { contentType: string; kind: 'image' | 'file' };

/** Raster images a browser shows inline; nothing that can carry script (no SVG). */
export const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** Documents and archives, by the type their bytes prove. */
const DOCUMENTS = new Set([
  'application/pdf',
  'application/zip',
  'application/x-cfb', // .doc, .xls, .ppt (OLE compound files)
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.oasis.opendocument.text',
  'application/vnd.oasis.opendocument.spreadsheet',
  'application/vnd.oasis.opendocument.presentation',
]);

/** Text has no magic number: only under a text file's name, and only if it is text. */
const TEXT_EXTENSIONS: Record<string, string> = {
  txt: 'text/plain',
  log: 'text/plain',
  md: 'text/plain',
  csv: 'text/csv',
};

/** UTF-8 without NULs or control characters other than tab, newlines and form feed. */
function isPlainText(bytes: Buffer): boolean {
  if (bytes.includes(0)) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\x01-\x08\x0b\x0e-\x1f\x7f]/.test(bytes.toString('latin1'))) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * The type the bytes prove, or null when they prove none we accept. The client's Content-Type and
 * the name's extension never choose the type: HTML or SVG named `.png` proves nothing and is refused.
 */
export async function sniff(bytes: Buffer, filename: string): Promise<Sniffed | null> {
  const found = await fileTypeFromBuffer(bytes);
  if (found) {
    if (INLINE_IMAGES.has(found.mime)) return { contentType: found.mime, kind: 'image' };
    if (DOCUMENTS.has(found.mime)) return { contentType: found.mime, kind: 'file' };
    return null;
  }
  const ext = /\.([a-z0-9]{1,8})$/i.exec(filename)?.[1]?.toLowerCase() ?? '';
  const textType = TEXT_EXTENSIONS[ext];
  if (textType && bytes.length > 0 && isPlainText(bytes)) return { contentType: textType, kind: 'file' };
  return null;
}
