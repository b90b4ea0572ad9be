import { afterEach, describe, expect, it, vi } from 'vitest';
import { type SseMessage, SseParser, followStream } from './live';

afterEach(() => {
  vi.unstubAllGlobals();
});

function parseAll(text: string, piece = 0): { messages: SseMessage[]; parser: SseParser } {
  const parser = new SseParser();
  const messages: SseMessage[] = [];
  const on = (m: SseMessage) => messages.push(m);
  if (piece === 0) parser.feed(text, on);
  else for (let i = 0; i < text.length; i += piece) parser.feed(text.slice(i, i + piece), on);
  return { messages, parser };
}

describe('SseParser', () => {
  const stream =
    'retry: 2000\n\n: heartbeat\n\n' +
    'id: 7\nevent: submitted\ndata: {"seq":7}\n\n' +
    'id: 8\r\nevent: started\r\ndata: one\r\ndata:two\r\n\r\n' +
    'id: 9\n\n' +
    'event: end\ndata: {"reason":"the run ended"}\n\n' +
    'data: unterminated';
  it.each([0, 1, 2, 5])('parses messages cut every %i characters', (piece) => {
    const { messages, parser } = parseAll(stream, piece);
    expect(messages).toEqual([
      { id: '7', event: 'submitted', data: '{"seq":7}' },
      { id: '8', event: 'started', data: 'one\ntwo' },
      { id: '9', event: 'end', data: '{"reason":"the run ended"}' },
    ]);
    expect(parser.lastEventId).toBe('9');
    expect(parser.retry).toBe(2000);
  });
  it('drops messages without data and keeps "message" as the default type', () => {
    expect(parseAll('event: ping\n\n').messages).toEqual([]);
    expect(parseAll('data\n\n').messages).toEqual([{ id: '', event: 'message', data: '' }]);
    expect(parseAll('id: a\u0000b\ndata: x\n\n').messages[0]!.id).toBe('');
  });
});

function streamOf(text: string, status = 200): Response {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode(text));
      c.close();
    },
  });
  return new Response(body, { status, headers: { 'Content-Type': 'text/event-stream' } });
}

describe('followStream', () => {
  it('reconnects after a drop with Last-Event-ID and stops at the end message', async () => {
    const answers = [
      // Dropped after two messages (no end).
      streamOf('retry: 1\n\nid: 3\nevent: submitted\ndata: {"seq":3}\n\nid: 4\nevent: claimed\ndata: {"seq":4}\n\n'),
      streamOf('id: 5\nevent: ended\ndata: {"seq":5}\n\nevent: end\ndata: {}\n\n'),
    ];
    const fetch = vi.fn(async (_url: string, _init: RequestInit) => answers.shift()!);
    vi.stubGlobal('fetch', fetch);
    const got: string[] = [];
    const states: boolean[] = [];
    await followStream('/runs/r1/events?follow=true', {
      signal: new AbortController().signal,
      onMessage: (m) => got.push(`${m.id}:${m.event}`),
      onState: (c) => states.push(c),
    });
    expect(got).toEqual(['3:submitted', '4:claimed', '5:ended']);
    expect(fetch).toHaveBeenCalledTimes(2);
    const first = fetch.mock.calls[0]![1].headers as Record<string, string>;
    const second = fetch.mock.calls[1]![1].headers as Record<string, string>;
    expect(fetch.mock.calls[0]![0]).toBe('/api/v1/runs/r1/events?follow=true');
    expect(first['Last-Event-ID']).toBeUndefined();
    expect(second['Last-Event-ID']).toBe('4');
    expect(states).toEqual([true, false, true]);
  });
  it('gives up on a 4xx with the API error', async () => {
    vi.stubGlobal(
      'fetch',
      async () => new Response(JSON.stringify({ error: { code: 'permission_denied', message: 'not yours' } }), { status: 403 }),
    );
    await expect(
      followStream('/events/stream', { signal: new AbortController().signal, onMessage: () => {} }),
    ).rejects.toMatchObject({ status: 403, message: 'not yours' });
  });
});
