// The team section's queues: an agent's routing keys as chips, added with Enter or a comma (several
// at once when pasted as "a, b") and removed with their × button. An agent with none sees every
// queue; admins and owners see every queue whatever they hold.
import { h } from '../../inbox/client/dom.js';
import { errorText } from './ui.js';

/**
 * Chips for a list of routing keys. `onChange` gets the whole new list (saved at once by the
 * table, or kept in a hidden field by the add form); when it rejects, the chips go back to the
 * previous list and the reason shows beside them.
 */
export function routingKeyChips(opts: {
  /** The list's accessible name, e.g. "Queues of Ann". */
  label: string;
  keys: string[];
  disabled?: boolean;
  onChange: (keys: string[]) => Promise<void>;
}): HTMLElement {
  let keys = [...opts.keys];
  const list = h('ul', { class: 'tags', 'aria-label': opts.label });
  const status = h('span', { class: 'error-text', role: 'alert' });
  const input = h('input', {
    'aria-label': `Add to ${opts.label}`,
    placeholder: opts.disabled ? null : 'store-7',
    maxlength: 400,
    size: 10,
    autocomplete: 'off',
    disabled: opts.disabled,
  });

  function draw() {
    list.replaceChildren(
      ...keys.map((k) =>
        h(
          'li',
          { class: 'tag', 'data-key': k },
          k,
          opts.disabled
            ? null
            : h(
                'button',
                {
                  type: 'button',
                  'aria-label': `Remove ${k}`,
                  onclick: () => void set(keys.filter((x) => x !== k)),
                },
                '×',
              ),
        ),
      ),
    );
  }

  async function set(next: string[]) {
    const before = keys;
    keys = next;
    draw();
    status.textContent = '';
    try {
      await opts.onChange(next);
    } catch (e) {
      keys = before;
      draw();
      status.textContent = errorText(e);
    }
  }

  /** What was typed becomes chips (each key once); nothing typed, nothing saved. */
  function addTyped() {
    const typed = input.value
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
    input.value = '';
    const next = [...new Set([...keys, ...typed])];
    if (next.length !== keys.length) void set(next);
  }

  input.addEventListener('keydown', (ev) => {
    // Enter must not submit the form the chips sit in.
    if (ev.key === 'Enter' || ev.key === ',') {
      ev.preventDefault();
      addTyped();
    }
  });
  input.addEventListener('blur', addTyped);
  draw();
  return h('div', { class: 'inline-form routing-keys' }, list, input, status);
}

/** The add form's queues: chips kept in a hidden `name` field (JSON) that `withQueues` reads. */
export function queuesField(name: string): HTMLElement {
  const hidden = h('input', { type: 'hidden', name, value: '[]' });
  const chips = routingKeyChips({
    label: 'Queues of the new member',
    keys: [],
    onChange: (keys) => {
      hidden.value = JSON.stringify(keys);
      return Promise.resolve();
    },
  });
  return h(
    'div',
    { class: 'field' },
    h('span', {}, 'Queues (routing keys; none: every queue)'),
    chips,
    hidden,
  );
}

/** The add form's fields as `POST /api/team` takes them: `routing_keys` as a list. */
export function withQueues(d: Record<string, string>, name = 'routing_keys'): Record<string, unknown> {
  const { [name]: keys, ...rest } = d;
  return { ...rest, routing_keys: keys ? (JSON.parse(keys) as string[]) : [] };
}

/** A member's queues in the team table, saved as soon as a chip is added or removed. */
export function memberQueues(
  m: { id: string; display_name: string; routing_keys?: string[] },
  disabled: boolean,
  save: (id: string, keys: string[]) => Promise<unknown>,
): HTMLElement {
  return routingKeyChips({
    label: `Queues of ${m.display_name}`,
    keys: m.routing_keys ?? [],
    disabled,
    onChange: async (keys) => {
      await save(m.id, keys);
    },
  });
}
