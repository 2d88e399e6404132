// The reconnection schedule and the client's bookkeeping, without a server: a fake WebSocket
// that the test drives frame by frame.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, WSClient, type MsgFrame } from '@switchboard/client-core';

test('back-off: exponential from 0.5 s to 30 s, full jitter', () => {
  const top = (n: number) => backoffDelay(n, undefined, undefined, () => 0.999999);
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 20].map(top),
    [499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999, 29999],
  );
  assert.equal(
    backoffDelay(5, undefined, undefined, () => 0),
    0,
  );
  assert.equal(
    backoffDelay(3, 500, 30_000, () => 0.5),
    2000,
  );
});

/** A WebSocket stand-in: records what is sent; the test plays the server. */
class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close() {
    this.readyState = 3;
  }
  /** The server's side. */
  frame(f: Record<string, unknown>) {
    this.readyState = 1;
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
}

const msg = (seq: number, id = `m${seq}`): MsgFrame => ({
  type: 'msg',
  id,
  seq,
  role: 'agent',
  sender_id: 'a',
  content_type: 'text',
  content: `#${seq}`,
  rich_media: null,
  client_msg_id: null,
  created_at: new Date().toISOString(),
});
const welcome = (history: MsgFrame[], lastSeq: number) => ({
  type: 'welcome',
  session_id: 'vs_1',
  conversation_id: 'c',
  history,
  resumed: false,
  last_seq: lastSeq,
  has_more: false,
  heartbeat_s: 25,
  max_frame_bytes: 65536,
});

test('seq gaps ask for a resume; duplicates are dropped; the cursor and the queue survive a reconnect', async () => {
  FakeSocket.all = [];
  const got: string[] = [];
  const ws = new WSClient({
    url: 'ws://chat.test/api/v1/ws/widget',
    token: 'tok',
    WebSocket: FakeSocket,
    minDelayMs: 1,
    maxDelayMs: 2,
    onMessage: (m) => got.push(m.id),
  });
  ws.sendMessage({ content: 'queued', client_msg_id: 'q1' });
  ws.connect();
  const s1 = FakeSocket.all[0]!;
  assert.equal(new URL(s1.url).searchParams.get('token'), 'tok');
  assert.equal(new URL(s1.url).searchParams.get('last_seq'), null, 'no cursor on a first connection');
  s1.frame(welcome([msg(1), msg(2)], 2));
  assert.deepEqual(s1.sent, [{ type: 'msg', client_msg_id: 'q1', content: 'queued' }]);
  s1.frame({ type: 'ack', client_msg_id: 'q1', id: 'own', seq: 3, created_at: '', duplicate: false });
  assert.equal(ws.lastSeq, 3);
  s1.frame(msg(5)); // 4 is missing
  assert.deepEqual(s1.sent.at(-1), { type: 'resume', last_seq: 3 });
  s1.frame(msg(4));
  s1.frame(msg(5)); // the replay's copy
  assert.equal(ws.lastSeq, 5);
  assert.deepEqual(got, ['m1', 'm2', 'm5', 'm4']);
  s1.frame({ type: 'resync', reason: 'redis_reconnected' });
  assert.deepEqual(s1.sent.at(-1), { type: 'resume', last_seq: 5 });

  // Dropped: a message sent meanwhile waits; the next connection resumes from 5 and sends it.
  s1.drop();
  assert.equal(ws.state, 'reconnecting');
  ws.sendMessage({ content: 'offline', client_msg_id: 'q2' });
  await new Promise((r) => setTimeout(r, 20));
  const s2 = FakeSocket.all[1]!;
  assert.equal(new URL(s2.url).searchParams.get('last_seq'), '5');
  s2.frame({ ...welcome([msg(5), msg(6)], 6), resumed: true });
  assert.deepEqual(got, ['m1', 'm2', 'm5', 'm4', 'm6']);
  assert.deepEqual(s2.sent, [{ type: 'msg', client_msg_id: 'q2', content: 'offline' }]);
  assert.equal(ws.state, 'open');
  ws.close();
  assert.equal(ws.state, 'closed');
});
