import { defineConfig } from 'vitest/config';

// Component tests (src/*.test.ts(x)) in jsdom; fetch is mocked per test, nothing reaches a server.
export default defineConfig({
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['./src/testing/setup.ts'],
    // ESM packages of JupyterLab with extensionless imports: let vite resolve them.
    server: { deps: { inline: [/@jupyter\/web-components/, /@jupyter\/react-components/, /@microsoft\/fast/] } }
  }
});
