// Attachments from the agent's device: the composer's attach button, files dropped on the thread,
// an image pasted into the reply. Each file is uploaded as the request body (so the browser reports
// upload progress, shown as a bar per file), then sent as an `image` or `file` message through the
// composer's outbox like any other message. Refusals (too large, a type that cannot be sent) are
// shown in the composer's error line.
import type { Composed } from './composer.js';
import { h } from './dom.js';

/** The upload's answer (`POST /api/conversations/:id/attachments`). */
type Uploaded = {
  id: string;
  url: string;
  filename: string;
  content_type: string;
  size: number;
  kind: string;
};

type Deps = {
  composer: HTMLFormElement;
  /** Where files may be dropped (the whole thread). */
  dropZone: HTMLElement;
  /** The open conversation, if any. */
  conversationId: () => string | null;
  send: (conversationId: string, payload: Composed) => void;
  error: (message: string) => void;
};

const csrf = () => document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? '';

/** Uploads one file with progress; resolves with the stored attachment or rejects with a message to show. */
function upload(conversationId: string, file: File, progress: (fraction: number) => void): Promise<Uploaded> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/conversations/${encodeURIComponent(conversationId)}/attachments`);
    xhr.setRequestHeader('X-CSRFToken', csrf());
    xhr.setRequestHeader('X-Filename', encodeURIComponent(file.name || 'file'));
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (ev) => {
      if (ev.lengthComputable) progress(ev.loaded / ev.total);
    });
    xhr.addEventListener('load', () => {
      const body = (xhr.response ?? {}) as Partial<Uploaded> & { message?: string };
      if (xhr.status === 201) return resolve(body as Uploaded);
      if (xhr.status === 401) location.assign(`/auth/login?next=${encodeURIComponent(location.pathname)}`);
      reject(new Error(body.message ?? `Could not upload ${file.name} (${xhr.status})`));
    });
    xhr.addEventListener('error', () => reject(new Error(`Could not upload ${file.name}: connection lost`)));
    xhr.send(file);
  });
}

/** The message an uploaded file becomes. */
function payloadOf(a: Uploaded): Composed {
  return a.kind === 'image'
    ? { content_type: 'image', content: '', rich_media: { url: a.url, alt: a.filename } }
    : {
        content_type: 'file',
        content: a.filename,
        rich_media: { url: a.url, filename: a.filename, size: a.size, mime_type: a.content_type },
      };
}

/** Adds the attach button, the progress list, drop and paste to the composer and the thread. */
export function attachUploads(d: Deps): void {
  const input = h('input', { type: 'file', multiple: true, hidden: true, id: 'attach-input' });
  const button = h(
    'button',
    {
      type: 'button',
      id: 'attach-button',
      class: 'attach-button',
      title: 'Attach files',
      'aria-label': 'Attach files',
    },
    '📎 Attach',
  );
  const list = h('ul', { class: 'attach-progress', 'aria-live': 'polite', 'aria-label': 'Uploads' });
  const foot = d.composer.querySelector('.composer-foot');
  foot?.prepend(button, input);
  d.composer.insertBefore(list, foot ?? null);

  async function send(files: Iterable<File>) {
    const conversationId = d.conversationId();
    if (!conversationId) return d.error('Open a conversation first');
    for (const file of files) {
      const bar = h('progress', { max: '100', value: '0' });
      const label = h('span', {}, `${file.name} — 0%`);
      const row = h('li', { class: 'attach-row' }, bar, ' ', label);
      list.append(row);
      try {
        const a = await upload(conversationId, file, (f) => {
          const pct = Math.round(f * 100);
          bar.value = pct;
          label.textContent = `${file.name} — ${pct}%`;
        });
        bar.value = 100;
        label.textContent = `${file.name} — sent`;
        d.send(conversationId, payloadOf(a));
        row.remove();
      } catch (e) {
        row.remove();
        d.error(e instanceof Error ? e.message : `Could not upload ${file.name}`);
      }
    }
  }

  button.addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    const files = [...(input.files ?? [])];
    input.value = '';
    void send(files);
  });

  const hasFiles = (ev: DragEvent) => [...(ev.dataTransfer?.types ?? [])].includes('Files');
  for (const zone of new Set([d.dropZone, d.composer])) {
    zone.addEventListener('dragover', (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      zone.classList.add('drop-target');
    });
    zone.addEventListener('dragleave', () => zone.classList.remove('drop-target'));
    zone.addEventListener('drop', (ev) => {
      zone.classList.remove('drop-target');
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      ev.stopPropagation();
      void send([...(ev.dataTransfer?.files ?? [])]);
    });
  }
  // A pasted screenshot: images only, so pasting text keeps working as before.
  d.composer.addEventListener('paste', (ev) => {
    const images = [...(ev.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'));
    if (!images.length) return;
    ev.preventDefault();
    void send(images);
  });
}
