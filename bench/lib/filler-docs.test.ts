// The synthetic documents the gateways step adds to the help-centre fixture: the same every run,
// distinct, and accepted by the knowledge API's own schema. Run: npm test -- bench/lib/filler-docs.test.ts
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDocumentSchema } from '../../src/knowledge/knowledge.schemas.js';
import { fillerDocuments } from './filler-docs.js';

test('fillerDocuments: deterministic, distinct titles, valid documents', () => {
  const docs = fillerDocuments(963);
  assert.equal(docs.length, 963);
  assert.deepEqual(fillerDocuments(963), docs);
  assert.equal(new Set(docs.map((d) => d.title)).size, docs.length);
  for (const { key: _key, ...d } of docs) createDocumentSchema.parse(d);
});
