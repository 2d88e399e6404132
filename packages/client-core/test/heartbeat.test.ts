// The visitor WebSocket's heartbeat against the real server (WS_HEARTBEAT_S=1): the client sends
// the protocol's `ping` frames and the server answers `pong`; the server's own WebSocket pings are
// answered; a healthy idle connection stays open across several heartbeat periods, while one that
// never answers the server's pings is dropped (the control that shows the beats really happen).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WebSocket, type ClientOptions } from 'ws';
import { ChatClient, WSClient, type ConnectionState, type WelcomeFrame } from '@switchboard/client-core';
import { startApp, type TestApp } from '../../../test/helpers/app.js';
import { dbModes } from '../../../test/helpers/db.js';
import { createTenant, SHOP } from '../../../test/helpers/relay.js';
import { eventually } from '../../../test/helpers/sockets.js';

const HEARTBEAT_S = 1;

/** What one client's socket sent and got, frame by frame, and the server's WebSocket pings. */
type Wire = { sent: { type: string }[]; received: { type: string }[]; serverPings: number; sockets: number };

/** `ws`'s WebSocket, recording its traffic; `options` go to every socket it opens. */
function recordingWebSocket(wire: Wire, options: ClientOptions = {}) {
  return class RecordingWebSocket extends WebSocket {
    constructor(url: string) {
      super(url, options);
      wire.sockets++;
      this.on('ping', () => wire.serverPings++);
      this.on('message', (data) => wire.received.push(JSON.parse(String(data)) as { type: string }));
      const send = this.send.bind(this);
      this.send = ((data: string) => {
        wire.sent.push(JSON.parse(data) as { type: string });
        send(data);
      }) as WebSocket['send'];
    }
  };
}

let t: TestApp;
const clients: WSClient[] = [];
before(async () => {
  t = await startApp(await dbModes[0]!.open(), { env: { WS_HEARTBEAT_S: String(HEARTBEAT_S) } });
});
after(async () => {
  for (const c of clients) c.close();
  await t.stop();
  await t.database.close();
});

async function visitorToken() {
  const tn = await createTenant(t.services);
  const client = new ChatClient({ baseUrl: t.url, tenantId: tn.id, widgetPublicKey: tn.pk, origin: SHOP });
  return (await client.createVisitorSession({ tenantId: tn.id })).visitor_token;
}

function connect(wire: Wire, o: { pingIntervalMs?: number; options?: ClientOptions } = {}) {
  const got = { welcomes: [] as WelcomeFrame[], states: [] as ConnectionState[], closes: [] as number[] };
  return visitorToken().then((token) => {
    const ws = new WSClient(
      {
        baseUrl: t.url,
        token,
        WebSocket: recordingWebSocket(wire, o.options),
        maxRetries: 0,
        ...(o.pingIntervalMs ? { pingIntervalMs: o.pingIntervalMs } : {}),
      },
      {
        onWelcome: (f) => got.welcomes.push(f),
        onStateChange: (s) => got.states.push(s),
        onClose: (code) => got.closes.push(code),
      },
    );
    clients.push(ws);
    ws.connect();
    return { ws, got };
  });
}

const wire = (): Wire => ({ sent: [], received: [], serverPings: 0, sockets: 0 });

test('ping/pong: the client pings, the server pongs, and an idle healthy link stays open for several beats', async () => {
  // A: the defaults (pings at the server's heartbeat_s). B: its own pings too rare to matter, so
  // only its answers to the server's WebSocket pings keep it alive. C: the same, but it never
  // answers them.
  const [a, b, c] = [wire(), wire(), wire()];
  const A = await connect(a);
  const B = await connect(b, { pingIntervalMs: 60_000 });
  const C = await connect(c, { pingIntervalMs: 60_000, options: { autoPong: false } });
  await eventually(() => A.got.welcomes.length === 1 && B.got.welcomes.length === 1);
  assert.equal(A.got.welcomes[0]!.heartbeat_s, HEARTBEAT_S, 'the server announces its heartbeat');

  // Idle (nothing sent but heartbeats) for more than four heartbeat periods.
  await new Promise((r) => setTimeout(r, 4.5 * HEARTBEAT_S * 1000));

  const pings = a.sent.filter((f) => f.type === 'ping').length;
  const pongs = a.received.filter((f) => f.type === 'pong');
  assert.ok(pings >= 3, `the client pinged every heartbeat_s (${pings} pings)`);
  assert.ok(pongs.length >= pings - 1, `the server answered each ping (${pongs.length} pongs to ${pings})`);
  assert.ok(
    pongs.every((p) => typeof (p as { time?: unknown }).time === 'string'),
    'a pong carries the time',
  );
  assert.deepEqual(
    a.sent.map((f) => f.type).filter((x) => x !== 'ping'),
    [],
    'only heartbeats went out',
  );
  for (const [name, w, client] of [
    ['A', a, A],
    ['B', b, B],
  ] as const) {
    assert.equal(client.ws.state, 'open', `${name} is still open`);
    assert.deepEqual(client.got.states, ['connecting', 'open'], `${name} never reconnected`);
    assert.equal(w.sockets, 1, `${name} used one socket`);
    assert.deepEqual(client.got.closes, [], `${name} was never closed`);
    assert.ok(w.serverPings >= 3, `${name} got the server's WebSocket pings (${w.serverPings})`);
  }
  assert.equal(b.sent.filter((f) => f.type === 'ping').length, 0, 'B sent no ping of its own');

  // The control: a socket that does not answer the server's pings (and sends nothing) is dropped.
  await eventually(() => C.got.closes.length > 0, 10_000);
  assert.ok(c.serverPings >= 1);
  assert.notEqual(C.ws.state, 'open');
});
