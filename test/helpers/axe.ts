import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Frame, Page } from 'playwright-core';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export type AxeFinding = { id: string; impact: string; help: string; targets: string[] };

/**
 * axe-core's scan of a page or a frame: the serious and critical violations of WCAG 2 A/AA and
 * the best practices, as `impact rule-id: help — selectors` lines (empty when there are none).
 * The source goes in through the debugger protocol's evaluation, which a page's CSP
 * (`script-src 'self'`) does not govern, where an inline script tag would be refused; nothing is
 * fetched. Open shadow roots are scanned (axe's default); frames are scanned on their own.
 */
export async function axeScan(target: Page | Frame, minor = false): Promise<string[]> {
  const found = await axeFindings(target);
  return found
    .filter((f) => minor || f.impact === 'serious' || f.impact === 'critical')
    .map((f) => `${f.impact} ${f.id}: ${f.help} — ${f.targets.join(' | ')}`);
}

/** Every violation axe finds, of any impact. */
export async function axeFindings(target: Page | Frame): Promise<AxeFinding[]> {
  if (!(await target.evaluate(() => 'axe' in window))) await target.evaluate(axeSource);
  return target.evaluate(async () => {
    const axe = (window as unknown as { axe: AxeLike }).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
      iframes: false,
      resultTypes: ['violations'],
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? 'minor',
      help: v.help,
      targets: v.nodes.slice(0, 6).map((n) => JSON.stringify(n.target)),
    }));
  });
}

type AxeLike = {
  run: (
    context: Document,
    options: Record<string, unknown>,
  ) => Promise<{
    violations: { id: string; impact?: string | null; help: string; nodes: { target: unknown[] }[] }[];
  }>;
};

/**
 * The controls (role and accessible name) of Chromium's own accessibility tree, which, unlike
 * axe, sees into closed shadow roots such as the embed's launcher.
 */
export async function axControls(page: Page): Promise<{ role: string; name: string }[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as {
      nodes: { ignored: boolean; role?: { value: string }; name?: { value: string } }[];
    };
    const controls = new Set(['button', 'link', 'textbox', 'combobox', 'checkbox', 'radio', 'tab']);
    return nodes
      .filter((n) => !n.ignored && controls.has(n.role?.value ?? ''))
      .map((n) => ({ role: n.role!.value, name: (n.name?.value ?? '').trim() }));
  } finally {
    await cdp.detach();
  }
}
