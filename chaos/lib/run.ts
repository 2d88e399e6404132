// A whole run: the database, the chosen scenarios one after the other, the summary.
import { rmSync } from 'node:fs';
import { createChaosDatabase } from './nodes.js';
import { killChildren } from './procs.js';
import { FULL, SHORT, makeLogDir, runScenario, type RunProfile, type ScenarioResult } from './runner.js';
import { SCENARIOS } from './scenarios.js';

export type ChaosOptions = {
  /** Scenario names; all (of the profile) when empty. */
  scenarios?: string[];
  short?: boolean;
  /** Overrides of the profile (visitors, rate, …). */
  profile?: Partial<RunProfile>;
  /** PostgreSQL to create the run's database in. */
  adminUrl?: string;
  log?: (msg: string) => void;
  /** Remove the node logs when every scenario passed (the test does; the CLI keeps them). */
  removeLogsIfOk?: boolean;
};

export type ChaosSummary = { scenarios: ScenarioResult[]; ok: boolean };

export const scenarioNames = (short: boolean) =>
  SCENARIOS.filter((s) => !(short && s.fullOnly)).map((s) => s.name);

let aborted = false;
/** Stops a run under way at its next step (Ctrl-C); its teardown still runs. */
export function abortChaos() {
  aborted = true;
}

/** Runs the scenarios one by one, each on a fresh Redis, proxy, pair of nodes and organization. */
export async function runChaos(opts: ChaosOptions = {}): Promise<ChaosSummary> {
  const short = opts.short ?? false;
  const names = opts.scenarios?.length ? opts.scenarios : scenarioNames(short);
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length)
    throw new Error(`unknown scenario: ${unknown.join(', ')} (known: ${scenarioNames(false).join(', ')})`);
  const log = opts.log ?? ((m: string) => process.stderr.write(`chaos: ${m}\n`));
  const profile = { ...(short ? SHORT : FULL), ...opts.profile };
  const adminUrl =
    opts.adminUrl ??
    process.env.CHAOS_PG_URL ??
    process.env.TEST_PG_ADMIN_URL ??
    'postgres://postgres@127.0.0.1:5432/postgres';
  const logDir = makeLogDir();
  log(`node logs in ${logDir}`);
  aborted = false;
  const db = await createChaosDatabase(adminUrl);
  log(`database ${db.name}`);
  const results: ScenarioResult[] = [];
  try {
    for (const name of names) {
      if (aborted) break;
      const sc = SCENARIOS.find((s) => s.name === name)!;
      log(`[${name}] start`);
      const r = await runScenario(sc, { db, profile, logDir, log, aborted: () => aborted });
      log(`[${name}] setup ${r.setup_ms} ms, whole scenario ${r.duration_ms} ms`);
      log(
        `[${name}] ${r.ok ? 'ok' : 'FAILED'}: sent ${r.sent}, stored ${r.stored}, delivered ${r.delivered}, lost ${r.lost}, duplicated ${r.duplicated}, settle ${r.settle_ms} ms, crashed ${r.crashed_nodes}${r.failures.length ? `\n  - ${r.failures.join('\n  - ')}` : ''}`,
      );
      results.push(r);
    }
  } finally {
    killChildren();
    await db.drop().catch((err: Error) => log(`could not drop ${db.name}: ${err.message}`));
  }
  const ok = !aborted && results.length === names.length && results.every((r) => r.ok);
  if (ok && opts.removeLogsIfOk) rmSync(logDir, { recursive: true, force: true });
  return { scenarios: results, ok };
}
