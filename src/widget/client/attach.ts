// Attachments in the widget page: the attach button, files dropped on the chat, an image pasted
// into the message field, the upload's progress bar and its errors. The file goes to
// `POST /api/widget/attachments` (same origin: `connect-src 'self'`); the message that shows it
// is then sent like any other, through the outbox.
import { el } from './render.js';

/** `POST /api/widget/attachments`'s answer. */
export type Attachment = {
  id: string;
  url: string;
  filename: string;
  content_type: string;
  size: number;
  kind: 'image' | 'file';
};

/** The message an attachment makes: `image` `{url, alt}` or `file` `{url, filename, size, mime_type}`. */
export type MediaMessage = {
  content: string;
  content_type: 'image' | 'file';
  rich_media: Record<string, unknown>;
};

type Deps = {
  /** Where files may be dropped: the whole chat. */
  zone: HTMLElement;
  form: HTMLFormElement;
  input: HTMLTextAreaElement;
  /** The upload's query: the conversation and the visitor's proof. */
  query: { conversation_id: string; external_id: string; user_hash?: string };
  send: (m: MediaMessage) => void;
};

type Answer = { status: number; body: unknown };

function post(url: string, file: File, onProgress: (percent: number) => void): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.setRequestHeader('X-Filename', encodeURIComponent(file.name || 'file'));
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total) onProgress(Math.round((e.loaded / e.total) * 100));
    };
    xhr.onload = () => resolve({ status: xhr.status, body: xhr.response as unknown });
    xhr.onerror = () => reject(new Error('network'));
    xhr.send(file);
  });
}

/** What the visitor reads when an upload is refused. */
function refusal(a: Answer): string {
  const code = (a.body as { error?: unknown } | null)?.error;
  if (a.status === 413 || code === 'attachment/too_large') return 'This file is too large to send.';
  if (a.status === 415 || code === 'attachment/type') return 'This type of file cannot be sent.';
  const message = (a.body as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message
    ? `The file could not be sent: ${message}`
    : 'The file could not be sent.';
}

/** The message for a stored attachment: an image shows inline, anything else is a download. */
export function mediaMessage(a: Attachment): MediaMessage {
  return a.kind === 'image'
    ? { content: a.filename, content_type: 'image', rich_media: { url: a.url, alt: a.filename } }
    : {
        content: a.filename,
        content_type: 'file',
        rich_media: { url: a.url, filename: a.filename, size: a.size, mime_type: a.content_type },
      };
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

/** Adds the attach button, the progress bar and the error line, and listens for drops and pastes. */
export function setupAttachments(d: Deps): void {
  const button = el('button', 'cw-attach');
  button.append(paperclip());
  button.type = 'button';
  button.setAttribute('aria-label', 'Attach a file');
  button.title = 'Attach a file';
  const chooser = el('input', 'cw-attach-input');
  chooser.type = 'file';
  chooser.multiple = true;
  chooser.hidden = true;
  const progress = el('div', 'cw-progress');
  progress.setAttribute('role', 'progressbar');
  progress.setAttribute('aria-valuemin', '0');
  progress.setAttribute('aria-valuemax', '100');
  progress.hidden = true;
  const bar = el('div', 'cw-progress-bar');
  progress.append(bar);
  const error = el('p', 'cw-attach-error');
  error.setAttribute('role', 'alert');
  error.hidden = true;
  d.form.prepend(button, chooser);
  d.form.before(progress, error);

  const q = new URLSearchParams({
    conversation_id: d.query.conversation_id,
    external_id: d.query.external_id,
  });
  if (d.query.user_hash) q.set('user_hash', d.query.user_hash);
  const url = `/api/widget/attachments?${q}`;

  function showError(text: string): void {
    error.textContent = text;
    error.hidden = !text;
  }

  function setProgress(name: string, percent: number | undefined): void {
    progress.hidden = percent === undefined;
    if (percent === undefined) return progress.removeAttribute('aria-valuenow');
    progress.setAttribute('aria-label', `Uploading ${name}`);
    progress.setAttribute('aria-valuenow', String(percent));
    // CSSOM, not a style attribute: the page's style-src allows no inline styles.
    bar.style.width = `${percent}%`;
  }

  async function upload(file: File): Promise<void> {
    showError('');
    setProgress(file.name, 0);
    try {
      const a = await post(url, file, (p) => setProgress(file.name, p));
      if (a.status !== 201 && a.status !== 200) return showError(refusal(a));
      d.send(mediaMessage(a.body as Attachment));
    } catch {
      showError('The file could not be sent. Check your connection and try again.');
    } finally {
      setProgress(file.name, undefined);
    }
  }

  // One upload at a time, in the order the files came.
  let queue = Promise.resolve();
  const enqueue = (files: Iterable<File>) => {
    for (const f of files) queue = queue.then(() => upload(f));
  };

  button.addEventListener('click', () => chooser.click());
  chooser.addEventListener('change', () => {
    enqueue([...(chooser.files ?? [])]);
    chooser.value = '';
  });

  const hasFiles = (e: DragEvent) => !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  d.zone.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer!.dropEffect = 'copy';
    d.zone.classList.add('cw-dragging');
  });
  d.zone.addEventListener('dragleave', (e) => {
    if (e.target === d.zone) d.zone.classList.remove('cw-dragging');
  });
  d.zone.addEventListener('drop', (e) => {
    d.zone.classList.remove('cw-dragging');
    if (!hasFiles(e)) return;
    e.preventDefault();
    enqueue([...e.dataTransfer!.files]);
  });
  d.input.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'));
    if (!files.length) return; // text is pasted as usual
    e.preventDefault();
    enqueue(files);
  });
}
