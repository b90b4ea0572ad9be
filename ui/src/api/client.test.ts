import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, errorFrom, getJson, postJson, query } from './client';

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('query', () => {
  it('keeps set values only, in order', () => {
    expect(query({ status: 'FAILED', definition: '', owner: undefined, limit: 50, follow: false, x: null })).toBe(
      '?status=FAILED&limit=50',
    );
    expect(query({})).toBe('');
    expect(query({ created_after: '2026-11-24T10:00:00Z' })).toBe('?created_after=2026-11-24T10%3A00%3A00Z');
  });
});

describe('errorFrom', () => {
  it('reads the API error body', async () => {
    const e = await errorFrom(
      new Response(JSON.stringify({ error: { code: 'invalid_argument', message: "memory 'lots' is not a size" } }), {
        status: 400,
      }),
    );
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(400);
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toBe("memory 'lots' is not a size");
  });
  it('falls back to the text or the status', async () => {
    expect((await errorFrom(new Response('upstream down', { status: 502 }))).message).toBe('upstream down');
    const empty = await errorFrom(new Response('', { status: 503, statusText: 'Service Unavailable' }));
    expect(empty.message).toBe('503 Service Unavailable');
    expect(empty.code).toBe('http_503');
  });
});

describe('getJson', () => {
  it('sends If-None-Match and reports a 304', async () => {
    const fetch = vi.fn(async (_url: string, init: RequestInit) => {
      const h = init.headers as Record<string, string>;
      if (h['If-None-Match'] === '"v1"') return new Response(null, { status: 304 });
      return new Response(JSON.stringify({ runs: [] }), { status: 200, headers: { ETag: '"v1"' } });
    });
    vi.stubGlobal('fetch', fetch);
    const first = await getJson<{ runs: unknown[] }>('/runs');
    expect(first).toEqual({ notModified: false, data: { runs: [] }, etag: '"v1"' });
    expect(fetch.mock.calls[0]![0]).toBe('/api/v1/runs');
    expect(fetch.mock.calls[0]![1].cache).toBe('no-store');
    const second = await getJson('/runs', { etag: '"v1"' });
    expect(second).toEqual({ notModified: true });
  });
  it('turns an error answer into an ApiError', async () => {
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ error: { code: 'not_found', message: 'run x not found' } }), { status: 404 }));
    await expect(getJson('/runs/x')).rejects.toMatchObject({ status: 404, code: 'not_found', message: 'run x not found' });
  });
  it('says when the server cannot be reached', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    await expect(getJson('/runs')).rejects.toMatchObject({ status: 0, code: 'unreachable' });
  });
});

describe('postJson', () => {
  it('posts JSON and returns the answer', async () => {
    const fetch = vi.fn(async () => new Response(JSON.stringify({ id: 'r1' }), { status: 201 }));
    vi.stubGlobal('fetch', fetch);
    expect(await postJson('/runs', { definition: 'hello' })).toEqual({ id: 'r1' });
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/v1/runs');
    expect(init.method).toBe('POST');
    expect(init.body).toBe('{"definition":"hello"}');
  });
  it('rejects with the API message on 4xx', async () => {
    vi.stubGlobal(
      'fetch',
      async () =>
        new Response(JSON.stringify({ error: { code: 'invalid_argument', message: 'resources: memory bad' } }), {
          status: 400,
        }),
    );
    await expect(postJson('/runs', {})).rejects.toMatchObject({ status: 400, message: 'resources: memory bad' });
  });
});
