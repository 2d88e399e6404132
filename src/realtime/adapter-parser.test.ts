// The Redis adapter's parser drops this node's own broadcasts unread and decodes the rest whole,
// and speaks the adapter's default MessagePack (notepack.io) both ways, so a node of the previous
// version and one of this version understand each other during a rolling upgrade.
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

test("the adapter's parser and the adapter's default parser (notepack.io) read each other", () => {
  const { parser } = createAdapterParser();
  const value = [
    'abcdEF12',
    {
      type: 2,
      data: [
        'message_received',
        {
          id: 'm1',
          content: 'héllo 👋 '.repeat(40),
          seq: 2 ** 40,
          below: -(2 ** 40),
          score: 1.25,
          at: new Date('2026-12-01T00:00:00.123Z'),
          none: null,
          list: [1, 'two', { three: 3 }],
          bytes: Buffer.from([0, 1, 254, 255]),
        },
      ],
      nsp: '/',
    },
    { rooms: ['conv:1', 'live:q'], except: ['sock1'], flags: { volatile: true } },
  ];
  assert.deepEqual(msgpack.decode(parser.encode(value)), value);
  assert.deepEqual(parser.decode(msgpack.encode(value) as Buffer), value);
  // Values notepack leaves out (undefined members) do not reach the other side as anything else.
  const sparse = { uid: 'abcdEF12', type: 3, opts: { rooms: ['r'], except: undefined } };
  assert.equal((msgpack.decode(parser.encode(sparse)) as typeof sparse).opts.except, undefined);
  assert.equal((parser.decode(msgpack.encode(sparse) as Buffer) as typeof sparse).opts.except, undefined);
});

test("the adapter's parser: each broadcast's bytes stay as they were once later ones are encoded", () => {
  const { parser } = createAdapterParser();
  // msgpackr writes into a buffer it keeps: a message waiting in the Redis client's queue must not
  // be overwritten by the next broadcast's encoding.
  const first = parser.encode(['abcdEF12', packet, opts]);
  const copy = Buffer.from(first);
  for (let i = 0; i < 2000; i++) parser.encode(['zyxwVU98', { ...packet, data: ['x', 'y'.repeat(i)] }, opts]);
  assert.deepEqual(first, copy);
  assert.deepEqual(parser.decode(first), ['abcdEF12', packet, opts]);
});
