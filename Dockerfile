# syntax=docker/dockerfile:1
# vulnscan: build with the dev toolchain, run on production dependencies only, as a non-root user.
# Node 22, the maintained LTS line (Node 20 left support in April 2026); 24 works too
# (--build-arg NODE_IMAGE=node:24-bookworm-slim). The tests' floor is in package.json engines.
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
# Server (tsc → dist) and web console (vite → dist/console), as npm start does.
RUN npm run build

FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: no production dependency needs one, and none may download at build time.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    PORT=4000 \
    HOST=0.0.0.0 \
    DATA_DIR=/app/data
WORKDIR /app
# Code and dependencies stay owned by root (read-only for the service); only DATA_DIR is writable.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 4000
VOLUME ["/app/data"]
# Liveness only (/healthz, on the PORT above); Node has fetch, so the slim image needs no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:4000/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself as the command (never npm start) so SIGTERM reaches the graceful shutdown in server.ts.
CMD ["node", "dist/server.js"]
