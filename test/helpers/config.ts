import { loadConfig, type Config } from '../../src/config.js';

/** A complete configuration for in-process tests (secrets fixed, nothing written to disk). */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://localhost/unused',
    SESSION_SECRET: 'test-session-secret-test-session-secret',
    ENCRYPTION_KEY: '11'.repeat(32),
    LOG_LEVEL: 'silent',
    PUBLIC_URL: 'http://localhost:3000',
    ...env,
  });
}
