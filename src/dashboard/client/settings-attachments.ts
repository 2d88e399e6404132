// Widget & origins → Attachments: the largest file the organization's visitors and agents may
// attach, in MB (empty: the default, 10 MB). The server checks the bounds again (1 KB up to the
// platform's ATTACHMENT_MAX_BYTES) and refuses anything else without changing the limit.
import { api, h } from '../../inbox/client/dom.js';
import { errorText, labelled } from './ui.js';

const MB = 1024 * 1024;
const MIN_BYTES = 1024;
const DEFAULT_MB = 10;

/** Bytes as the field shows them: MB with at most three decimals, no trailing zeros. */
const asMb = (bytes: number) => String(Math.round((bytes / MB) * 1000) / 1000);

/** The attachments card; `initial` is the organization's `attachment_max_bytes` (null: the default). */
export function attachmentsPanel(
  initial: number | null,
  onSaved: (org: { attachment_max_bytes?: number | null }) => void = () => undefined,
) {
  const size = labelled(
    'Largest file (MB)',
    h('input', {
      name: 'attachment_max_mb',
      type: 'number',
      min: '0.001',
      step: 'any',
      inputmode: 'decimal',
      placeholder: `${DEFAULT_MB} (default)`,
      value: initial === null ? '' : asMb(initial),
    }),
    `Files above it are refused, for visitors and agents alike. Empty: the default, ${DEFAULT_MB} MB.`,
  );
  const status = h('p', { class: 'muted', role: 'status' });
  const alert = h('p', { class: 'error-text', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save limit');
  const f = h(
    'form',
    { class: 'card-form attachments', 'aria-labelledby': 'attachments-title', novalidate: true },
    h('h2', { id: 'attachments-title' }, 'Attachments'),
    size.el,
    save,
    alert,
    status,
  );
  f.addEventListener('input', () => (status.textContent = ''));
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    alert.textContent = '';
    const text = size.control.value.trim();
    let bytes: number | null = null;
    if (text) {
      const mb = Number(text);
      bytes = Math.round(mb * MB);
      if (!Number.isFinite(mb) || bytes < MIN_BYTES) {
        size.error.textContent =
          'Enter a size of at least 0.001 MB (1 KB), or leave it empty for the default';
        size.control.setAttribute('aria-invalid', 'true');
        size.control.focus();
        return;
      }
    }
    save.disabled = true;
    api<{ attachment_max_bytes?: number | null }>('PATCH', '/api/organization', {
      attachment_max_bytes: bytes,
    })
      .then((next) => {
        status.textContent =
          bytes === null ? `Saved: the default, ${DEFAULT_MB} MB.` : `Saved: files up to ${asMb(bytes)} MB.`;
        onSaved(next);
      })
      .catch((e: unknown) => (alert.textContent = errorText(e)))
      .finally(() => (save.disabled = false));
  });
  return { el: f };
}
