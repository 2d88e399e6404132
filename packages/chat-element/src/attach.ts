// Attachments in <switchboard-chat>: the attach button, drag and drop onto the panel, an image
// pasted into the message field, the upload's progress bar and its errors, and how image and
// file messages are drawn. Uploads go to `POST /api/v1/attachments`; the message is then sent
// over the WebSocket (`WSClient.sendAttachment`).
import {
  ChatApiError,
  type Attachment,
  type ChatClient,
  type MsgFrame,
  type WSClient,
} from '@switchboard/client-core';
import type { Strings } from './strings.js';

/**
 * What an image or file message carries, as the thread draws it; `local` is the visitor's own
 * file (an object URL), shown until a reload brings the server's signed link.
 */
export type Media = { content_type: string; rich_media: Record<string, unknown> | null; local?: string };

/** The element's parts and services the attachments need. */
export type AttachHost = {
  host: HTMLElement;
  panel: HTMLElement;
  form: HTMLFormElement;
  input: HTMLTextAreaElement;
  strings: () => Strings;
  /** The session, started if need be (undefined in a preview). */
  session: () => Promise<{ client: ChatClient; ws: WSClient } | undefined>;
  /** Draws the visitor's message, pending until acked. */
  showSent: (clientMsgId: string, content: string, media: Media) => void;
};

/** Only http(s) URLs are ever shown or linked. */
function httpUrl(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}

function formatSize(bytes: unknown): string {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * The image or file of a message, as DOM (an `<img>` or a download link), or undefined for other
 * content types. `content` is left out of the bubble when it only repeats the file's name.
 */
export function mediaOf(m: Media, t: Strings): HTMLElement | undefined {
  const rich = m.rich_media ?? {};
  const url = m.local ?? httpUrl(rich.url);
  if (!url) return undefined;
  if (m.content_type === 'image') {
    const img = document.createElement('img');
    img.className = 'attachment-image';
    img.setAttribute('part', 'attachment-image');
    img.alt = typeof rich.alt === 'string' && rich.alt ? rich.alt : t.image;
    img.referrerPolicy = 'no-referrer';
    img.src = url;
    // A page whose CSP refuses blob: images shows the name instead.
    if (m.local) img.addEventListener('error', () => img.replaceWith(document.createTextNode(img.alt)));
    return img;
  }
  if (m.content_type === 'file') {
    const name = typeof rich.filename === 'string' && rich.filename ? rich.filename : t.file;
    const a = document.createElement('a');
    a.className = 'attachment-file';
    a.setAttribute('part', 'attachment-file');
    a.href = url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.download = name;
    const size = formatSize(rich.size);
    a.textContent = size ? `${name} (${size})` : name;
    a.setAttribute('aria-label', `${t.download} ${name}${size ? `, ${size}` : ''}`);
    return a;
  }
  return undefined;
}

/** Whether a message's text only repeats its attachment's name (then the bubble shows the file alone). */
export function captionRepeats(m: Media, content: string): boolean {
  const rich = m.rich_media ?? {};
  return content === rich.filename || content === rich.alt;
}

/** What a screen reader announces for an image or file message without text: its alt or name. */
export function spokenMedia(m: Pick<MsgFrame, 'content_type' | 'rich_media'>, t: Strings): string {
  const rich = m.rich_media ?? {};
  if (m.content_type === 'image') return typeof rich.alt === 'string' && rich.alt ? rich.alt : t.image;
  if (m.content_type === 'file')
    return typeof rich.filename === 'string' && rich.filename ? rich.filename : t.file;
  return '';
}

/** The message an attachment's media makes, as the thread draws it before the server's copy. */
export function mediaOfMsg(m: Pick<MsgFrame, 'content_type' | 'rich_media'>): Media | undefined {
  return m.content_type === 'image' || m.content_type === 'file'
    ? { content_type: m.content_type, rich_media: m.rich_media }
    : undefined;
}

/** A paperclip icon (no emoji: not every system has a font for it). */
function paperclip(): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  for (const [k, v] of Object.entries({
    viewBox: '0 0 24 24',
    width: '18',
    height: '18',
    fill: 'none',
    stroke: 'currentColor',
    'stroke-width': '2',
    'stroke-linecap': 'round',
    'stroke-linejoin': 'round',
    'aria-hidden': 'true',
    focusable: 'false',
  }))
    svg.setAttribute(k, v);
  const path = document.createElementNS(ns, 'path');
  path.setAttribute(
    'd',
    'M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48',
  );
  svg.append(path);
  return svg;
}

/**
 * Adds the attach button to the form and listens for dropped and pasted files. Answers
 * `applyStrings()`, to call when the language changes.
 */
export function setupAttachments(h: AttachHost) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'attach';
  button.setAttribute('part', 'attach');
  button.append(paperclip());
  const chooser = document.createElement('input');
  chooser.type = 'file';
  chooser.multiple = true;
  chooser.hidden = true;
  const progress = document.createElement('div');
  progress.className = 'attach-progress';
  progress.setAttribute('part', 'progress');
  progress.setAttribute('role', 'progressbar');
  progress.setAttribute('aria-valuemin', '0');
  progress.setAttribute('aria-valuemax', '100');
  progress.hidden = true;
  const bar = document.createElement('div');
  bar.className = 'attach-bar';
  progress.append(bar);
  const error = document.createElement('p');
  error.className = 'attach-error';
  error.setAttribute('part', 'attach-error');
  error.setAttribute('role', 'alert');
  error.hidden = true;
  h.form.prepend(button, chooser);
  h.form.before(progress, error);

  // One upload at a time, in the order the files came.
  let queue = Promise.resolve();
  const enqueue = (files: Iterable<File>) => {
    for (const f of files) queue = queue.then(() => upload(f));
  };

  function showError(text: string) {
    error.textContent = text;
    error.hidden = !text;
  }

  function setProgress(name: string, percent: number | undefined) {
    progress.hidden = percent === undefined;
    if (percent === undefined) return progress.removeAttribute('aria-valuenow');
    progress.setAttribute('aria-label', `${h.strings().uploading} ${name}`);
    progress.setAttribute('aria-valuenow', String(percent));
    // CSSOM, not a style attribute: allowed under a strict style-src.
    bar.style.width = `${percent}%`;
  }

  function messageOf(err: unknown): string {
    const t = h.strings();
    if (err instanceof ChatApiError) {
      if (err.code === 'attachment/too_large' || err.status_code === 413) return t.tooLarge;
      if (err.code === 'attachment/type' || err.status_code === 415) return t.badType;
      if (err.status_code === 0) return t.uploadFailed;
      return `${t.uploadFailed} ${err.message}`;
    }
    return t.uploadFailed;
  }

  async function upload(file: File) {
    showError('');
    const s = await h.session();
    if (!s) return;
    setProgress(file.name, 0);
    try {
      const token = s.ws.visitorToken ?? (await welcomed());
      const a: Attachment = await s.client.uploadAttachment(token, file, {
        filename: file.name || 'file',
        onProgress: (loaded, total) =>
          setProgress(file.name, total ? Math.round((loaded / total) * 100) : 100),
      });
      const alt = a.kind === 'image' ? a.filename : undefined;
      const id = s.ws.sendAttachment(a, alt ? { alt } : {});
      // The message names the stored, unsigned link; the visitor's own copy shows through the
      // signed one the upload answered (the relay does not echo their message back).
      const local = a.preview_url ?? URL.createObjectURL(file);
      const media: Media =
        a.kind === 'image'
          ? { content_type: 'image', rich_media: { url: a.url, alt: a.filename }, local }
          : {
              content_type: 'file',
              rich_media: { url: a.url, filename: a.filename, size: a.size },
              local,
            };
      h.showSent(id, a.filename, media);
      h.host.dispatchEvent(new CustomEvent('switchboard-attachment', { detail: a }));
    } catch (err) {
      showError(messageOf(err));
      h.host.dispatchEvent(new CustomEvent('switchboard-error', { detail: err }));
    } finally {
      setProgress(file.name, undefined);
    }
  }

  /** The token of a session still starting: its first welcome brings it. */
  function welcomed(): Promise<string> {
    return new Promise((resolve) =>
      h.host.addEventListener(
        'switchboard-welcome',
        () => void h.session().then((s) => resolve(s?.ws.visitorToken ?? '')),
        { once: true },
      ),
    );
  }

  button.addEventListener('click', () => chooser.click());
  chooser.addEventListener('change', () => {
    enqueue([...(chooser.files ?? [])]);
    chooser.value = '';
  });

  const hasFiles = (e: DragEvent) => !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  h.panel.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer!.dropEffect = 'copy';
    h.panel.classList.add('dragging');
  });
  h.panel.addEventListener('dragleave', (e) => {
    if (e.target === h.panel) h.panel.classList.remove('dragging');
  });
  h.panel.addEventListener('drop', (e) => {
    h.panel.classList.remove('dragging');
    if (!hasFiles(e)) return;
    e.preventDefault();
    enqueue([...e.dataTransfer!.files]);
  });
  h.input.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'));
    if (!files.length) return; // text is pasted as usual
    e.preventDefault();
    enqueue(files);
  });

  return {
    applyStrings() {
      const t = h.strings();
      button.setAttribute('aria-label', t.attach);
      button.title = t.attach;
    },
  };
}
