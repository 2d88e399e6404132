// The Redis adapter's parser drops this node's own broadcasts unread and decodes the rest whole.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as msgpack from 'notepack.io';
import { createAdapterParser } from './adapter-parser.js';

const packet = { type: 2, data: ['message_received', { id: 'm1', content: 'héllo' }], nsp: '/' };
const opts = { rooms: ['conv:1'], except: [], flags: {} };

test("the adapter's parser: own broadcasts are answered by their id alone, others decoded whole", () => {
  const { parser, own } = createAdapterParser();
  const mine = parser.encode(['abcdEF12', packet, opts]);
  const theirs = parser.encode(['zyxwVU98', packet, opts]);
  // What the adapter's default parser makes is read the same.
  assert.deepEqual(parser.encode(['abcdEF12', packet, opts]), msgpack.encode(['abcdEF12', packet, opts]));
  assert.deepEqual(parser.decode(mine), ['abcdEF12', packet, opts]);

  own('abcdEF12');
  assert.deepEqual(parser.decode(mine), ['abcdEF12']);
  assert.deepEqual(parser.decode(theirs), ['zyxwVU98', packet, opts]);
  // Requests between nodes (maps) and other shapes are decoded whole.
  const request = { uid: 'abcdEF12', requestId: 'r1', type: 3, opts };
  assert.deepEqual(parser.decode(parser.encode(request)), request);
  assert.deepEqual(parser.decode(parser.encode(['abcdEF12', packet])), ['abcdEF12', packet]);
  // An id that is only a prefix of ours is someone else's.
  assert.deepEqual(parser.decode(parser.encode(['abcd', packet, opts])), ['abcd', packet, opts]);
});
