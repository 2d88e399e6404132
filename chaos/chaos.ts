// The fault suite: `npm run chaos [-- --short] [--scenarios a,b] [--out FILE]`. Progress goes to
// stderr; the last line on stdout is the JSON summary; exit code 0 only when every scenario held.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { abortChaos, runChaos, scenarioNames } from './lib/run.js';

const usage = `usage: npm run chaos -- [--short] [--scenarios a,b] [--out FILE] [--visitors N] [--rate N]
scenarios: ${scenarioNames(false).join(', ')}`;

let args;
try {
  args = parseArgs({
    options: {
      short: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      out: { type: 'string' },
      visitors: { type: 'string' },
      rate: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  }).values;
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${usage}\n`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

const number = (v: string | undefined, name: string) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`--${name} must be a positive integer\n${usage}\n`);
    process.exit(2);
  }
  return n;
};
const profile = {
  ...(args.visitors && { visitors: number(args.visitors, 'visitors') }),
  ...(args.rate && { rate: number(args.rate, 'rate') }),
};

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) process.exit(130); // a second Ctrl-C: the exit handler still kills children
    interrupted = true;
    process.stderr.write(`chaos: ${sig}, stopping after cleanup (again to quit at once)\n`);
    abortChaos();
  });
}

const started = Date.now();
try {
  const summary = await runChaos({
    short: args.short,
    scenarios: args.scenarios
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    profile,
  });
  const line = JSON.stringify(summary);
  if (args.out) writeFileSync(args.out, line + '\n');
  process.stderr.write(`chaos: done in ${Math.round((Date.now() - started) / 1000)} s\n`);
  process.stdout.write(line + '\n');
  process.exit(summary.ok && !interrupted ? 0 : 1);
} catch (err) {
  process.stderr.write(`chaos: ${(err as Error).stack ?? err}\n`);
  process.stdout.write(JSON.stringify({ scenarios: [], ok: false, error: (err as Error).message }) + '\n');
  process.exit(1);
}
