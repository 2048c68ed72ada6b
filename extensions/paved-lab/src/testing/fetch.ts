/**
 * A fake Jupyter server for component tests: `mockFetch(answer)` replaces `fetch` (which JupyterLab's
 * ServerConnection calls) and records each request; `answer` gives each one its status and JSON body.
 */
import { Widget } from '@lumino/widgets';
import { vi } from 'vitest';

export interface Call {
  method: string;
  /** The path after the server's `/paved/` (e.g. `promote/deploy`, `catalog/api/catalog/v1/search`). */
  path: string;
  query: URLSearchParams;
  body: unknown;
}

export interface Answer {
  status?: number;
  body: unknown;
}

export function mockFetch(answer: (call: Call) => Answer): Call[] {
  const calls: Call[] = [];
  const fake = async (input: Request | string, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    const text = await request.text();
    const url = new URL(request.url);
    const call = {
      method: request.method,
      path: url.pathname.replace(/^\/paved\//, ''),
      query: url.searchParams,
      body: text ? JSON.parse(text) : null
    };
    calls.push(call);
    const { status = 200, body } = answer(call);
    return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
  };
  vi.stubGlobal('fetch', vi.fn(fake));
  return calls;
}

/** Attach a Lumino widget (e.g. a ReactWidget) to the page and render it. */
export function mount<T extends Widget>(widget: T): T {
  Widget.attach(widget, document.body);
  widget.update();
  return widget;
}
