/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a server on :8080 so the page and the API share an origin, as
// they do when the server serves the built files (the server sends no CORS headers).
export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/v1": { target: "http://127.0.0.1:8080", ws: true },
      "/docs": "http://127.0.0.1:8080",
      "/openapi.json": "http://127.0.0.1:8080",
    },
  },
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 1024 },
  test: { include: ["src/**/*.test.ts"] },
});
