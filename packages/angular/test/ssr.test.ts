// Server rendering makes no network call: the chat's session and socket start in afterNextRender,
// which never runs on the server. The built library (dist/, as npm publishes it) is rendered by
// @angular/platform-server with fetch and WebSocket replaced by spies that refuse.
import '@angular/compiler';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { provideZonelessChangeDetection } from '@angular/core';
import { bootstrapApplication, type BootstrapContext } from '@angular/platform-browser';
import { provideServerRendering, renderApplication } from '@angular/platform-server';
import type * as Library from '../src/public-api';

// The build, as an application gets it (its types are the sources').
const built: string = '../dist/fesm2022/switchboard-angular.mjs';
const { provideSwitchboardChat, SbChatPanelComponent } = (await import(built)) as typeof Library;

test('server rendering renders the docked panel and makes no network call', async () => {
  const calls: string[] = [];
  const realFetch = globalThis.fetch;
  const realWebSocket = globalThis.WebSocket;
  globalThis.fetch = ((input: unknown) => {
    calls.push(`fetch ${String(input)}`);
    return Promise.reject(new Error('no network while server rendering'));
  }) as typeof fetch;
  globalThis.WebSocket = class {
    constructor(url: string) {
      calls.push(`websocket ${url}`);
      throw new Error('no network while server rendering');
    }
  } as unknown as typeof WebSocket;
  try {
    const html = await renderApplication(
      (context: BootstrapContext) =>
        bootstrapApplication(
          SbChatPanelComponent,
          {
            providers: [
              provideZonelessChangeDetection(),
              provideServerRendering(),
              provideSwitchboardChat({
                tenantId: '01900000-0000-7000-8000-000000000000',
                publicKey: 'pk_server_render',
                baseUrl: 'http://127.0.0.1:9',
                locale: 'en',
              }),
            ],
          },
          context,
        ),
      {
        document: '<!doctype html><html><head></head><body><sb-chat-panel></sb-chat-panel></body></html>',
        url: 'http://localhost/',
        allowedHosts: ['localhost'],
      },
    );
    assert.match(html, /<sb-chat-panel[^>]*>/, 'the panel is rendered on the server');
    assert.match(html, /<textarea|<input/, 'with its message box');
    // Give anything scheduled a chance to run: still nothing.
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(calls, []);
  } finally {
    globalThis.fetch = realFetch;
    globalThis.WebSocket = realWebSocket;
  }
});
