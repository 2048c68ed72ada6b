/** Test setup (vitest, jsdom): what jsdom lacks and Lumino needs, and a clean DOM after each test. */
import { cleanup } from '@testing-library/react';
import { afterEach, vi } from 'vitest';

// @lumino/dragdrop subclasses DragEvent when it loads; jsdom has no DragEvent.
if (typeof globalThis.DragEvent === 'undefined') {
  (globalThis as Record<string, unknown>).DragEvent = class DragEvent extends MouseEvent {};
}

// JupyterLab's web components read media queries when they load; jsdom has no matchMedia.
if (typeof window.matchMedia !== 'function') {
  window.matchMedia = (query: string) =>
    ({
      matches: false,
      media: query,
      onchange: null,
      addListener: () => undefined,
      removeListener: () => undefined,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
      dispatchEvent: () => false
    }) as MediaQueryList;
}

// ReactWidget schedules work with requestIdleCallback, which jsdom lacks.
if (typeof globalThis.requestIdleCallback !== 'function') {
  globalThis.requestIdleCallback = ((callback: IdleRequestCallback) =>
    setTimeout(
      () => callback({ didTimeout: false, timeRemaining: () => 50 }),
      0
    )) as unknown as typeof requestIdleCallback;
  globalThis.cancelIdleCallback = ((id: number) => clearTimeout(id)) as typeof cancelIdleCallback;
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  document.body.innerHTML = '';
});
