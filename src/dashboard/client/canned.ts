// Automation → Canned replies: the organization's canned replies, which every agent can insert
// with `/shortcut` in the inbox composer (agents keep their own in the inbox). Add, edit, delete.
import type { CannedDto } from '../../canned/canned.dto.js';
import { api, formatTime, h } from '../../inbox/client/dom.js';
import { confirmButton, field, form, row, section, table } from './ui.js';

const BASE = '/api/canned-replies';

export async function cannedSection(): Promise<HTMLElement> {
  const { items } = await api<{ items: CannedDto[] }>('GET', BASE);
  const tenant = items.filter((c) => c.scope === 'tenant');
  const el = h('div');
  let editing: CannedDto | null = null;

  const redraw = async () => el.replaceWith(await cannedSection());

  const add = form(
    'Add a canned reply',
    [
      field('Shortcut (typed after /)', 'shortcut', { required: true, placeholder: 'refund' }),
      field('Title', 'title', { required: true }),
      field('Text', 'body', {
        required: true,
        textarea: true,
        placeholder: 'Hi {{visitor.name}}, … ({{visitor.email}}, {{agent.name}}, {{conversation.id}})',
      }),
    ],
    'Save',
    async (data) => {
      const fields = { shortcut: data.shortcut ?? '', title: data.title ?? '', body: data.body ?? '' };
      if (editing) await api('PATCH', `${BASE}/${editing.id}`, fields);
      else await api('POST', BASE, { ...fields, scope: 'tenant' });
      await redraw();
    },
  );
  const heading = add.querySelector('h2')!;
  const input = (name: string) =>
    add.querySelector<HTMLInputElement | HTMLTextAreaElement>(`[name="${name}"]`)!;

  function edit(c: CannedDto) {
    editing = c;
    heading.textContent = `Edit /${c.shortcut}`;
    input('shortcut').value = c.shortcut;
    input('title').value = c.title;
    input('body').value = c.body;
    input('shortcut').focus();
  }

  el.append(
    section(
      'Canned replies',
      "The organization's replies: every agent inserts them by typing / and the shortcut in the inbox. Variables are filled in for the conversation; unknown ones stay visible.",
      table(
        ['Shortcut', 'Title', 'Text', 'Updated', ''],
        tenant.map((c) => {
          const r = row(
            h('code', {}, `/${c.shortcut}`),
            c.title,
            c.body.length > 80 ? `${c.body.slice(0, 79)}…` : c.body,
            formatTime(c.updated_at),
            h(
              'span',
              { class: 'actions' },
              h(
                'button',
                { type: 'button', 'aria-label': `Edit /${c.shortcut}`, onclick: () => edit(c) },
                'Edit',
              ),
              ' ',
              confirmButton('Delete', `Delete /${c.shortcut}?`, async () => {
                await api('DELETE', `${BASE}/${c.id}`);
                await redraw();
              }),
            ),
          );
          r.dataset.shortcut = c.shortcut;
          return r;
        }),
        'No canned replies yet.',
      ),
      add,
    ),
  );
  return el;
}
