import { defineConfig } from 'vitest/config';

// Node's process, declared here so the typecheck needs no @types/node.
declare const process: { env: Record<string, string | undefined> };

// The server serves index.html at "/" and the hashed files under /assets/ (immutable), so the
// base is "/". The C++ build passes --outDir <dir> --emptyOutDir on the command line.
const server = process.env.TUG_SERVER ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    outDir: 'dist',
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: {
      '/api': { target: server, changeOrigin: false },
      '/runs': { target: server, changeOrigin: false },
    },
  },
  preview: {
    proxy: {
      '/api': { target: server, changeOrigin: false },
      '/runs': { target: server, changeOrigin: false },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
