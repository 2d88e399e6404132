# syntax=docker/dockerfile:1
# Switchboard's image: `docker build -t switchboard .` (see README "Containers").
# test/containers.test.ts checks this file's structure and runs the runtime stage's file set.

# ---- build: every dependency (esbuild, the Prisma generator), then the server and browser bundles
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
# npm ci checks the lockfile against every workspace's package.json (packages/*), so they come
# first, with what the postinstall's `prisma generate` reads; source changes then reuse this layer.
COPY package.json package-lock.json prisma.config.ts ./
COPY packages/angular/package.json packages/angular/
COPY packages/chat-element/package.json packages/chat-element/
COPY packages/client-core/package.json packages/client-core/
COPY packages/server-node/package.json packages/server-node/
COPY scripts/ scripts/
COPY prisma/ prisma/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# ---- runtime: production dependencies, the bundles, and the files the server reads at run time
FROM node:20.20.2-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/app/data
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/angular/package.json packages/angular/
COPY packages/chat-element/package.json packages/chat-element/
COPY packages/client-core/package.json packages/client-core/
COPY packages/server-node/package.json packages/server-node/
# --ignore-scripts: the root postinstall runs `prisma generate`, a dev tool; the client it makes is
# already inside dist/ (bundled from src/generated/). No production dependency needs its scripts.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# dist/: server and CLI; public/: static files and browser bundles; views/: page templates;
# prisma/migrations/: applied at start-up (and by `node dist/cli.js migrate`). The server finds
# them from the directory holding package.json (src/shared/paths.ts).
COPY --from=build /app/dist/ dist/
COPY --from=build /app/public/ public/
COPY --from=build /app/views/ views/
COPY --from=build /app/prisma/migrations/ prisma/migrations/
# DATA_DIR: the embedded database and secrets without DATABASE_URL, local attachments always.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
EXPOSE 3000
# No curl in slim images: Node's fetch asks /healthz (the process answers; /readyz is for the proxy).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Node as PID 1 handles SIGTERM itself (src/server.ts closes gracefully).
CMD ["node", "dist/server.js"]
