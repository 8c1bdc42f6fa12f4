# The resource API as a container: build with the full toolchain, run with production
# dependencies only, as the unprivileged `node` user, on a read-only root filesystem.
#
#   docker build -t resource-api .
#   docker run --rm --read-only -v resource-api-data:/data -p 3000:3000 \
#     -e AUTH_ISSUER=https://issuer.example.com/ -e AUTH_AUDIENCE=https://api.example.com resource-api
#
# The embedded database (DATABASE_URL unset) is the only thing written, in /data: mount a
# volume there. With DATABASE_URL=postgres://… nothing is written at all.
# Migrations as a separate step: docker run --rm -e DATABASE_URL=… resource-api node dist/scripts/db-migrate.js
#
# With podman/buildah, build with `--format docker`: the OCI image format drops HEALTHCHECK.

# --- build: all dependencies, compile TypeScript into dist/ (dev/ is not in the context) ------
FROM node:24-bookworm-slim AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json app.ts server.ts ./
COPY src ./src
COPY plugins ./plugins
COPY routes ./routes
COPY scripts/db-migrate.ts ./scripts/
RUN npm run build

# --- deps: production dependencies only -------------------------------------------------------
FROM node:24-bookworm-slim AS deps
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund

# --- runtime -------------------------------------------------------------------------------------
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DATA_DIR=/data
WORKDIR /app
# Owned by root and read-only to the process: nothing is written at run time (npm is not
# used at run time either; the server is started by node directly) except the embedded
# database in /data, a volume owned by the `node` user.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself (graceful drain, exit 0).
CMD ["node", "dist/server.js"]
