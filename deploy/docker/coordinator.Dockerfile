# syntax=docker/dockerfile:1
# The coordinator: gRPC on 50051 (workers, grpc.health.v1), the dashboard, its JSON API and
# Prometheus /metrics on HTTP 8080. Build from the repository root:
#   docker build -f deploy/docker/coordinator.Dockerfile -t mmim-coordinator:0.1.0 .
# Run: docs/operations.md. Secrets are files: /run/secrets/join-token, /run/secrets/admin-token,
# and the Redis URL in MMIM_REDIS_URL or the file named by MMIM_REDIS_URL_FILE.

# Node 20 is what CI tests; pin the digest (name@sha256:...) in production builds.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---- deps: production dependencies + tsx (the sources run as TypeScript, no build step) ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Every workspace's package.json: npm ci refuses a lock file whose workspaces are missing.
COPY apps/cli/package.json apps/cli/
COPY apps/coordinator/package.json apps/coordinator/
COPY apps/dashboard/package.json apps/dashboard/
COPY apps/worker/package.json apps/worker/
COPY libs/artifacts/package.json libs/artifacts/
COPY libs/data/package.json libs/data/
COPY libs/experiments/package.json libs/experiments/
COPY libs/model/package.json libs/model/
COPY libs/param-server/package.json libs/param-server/
COPY libs/protocol/package.json libs/protocol/
COPY libs/runtime/package.json libs/runtime/
COPY libs/sweep/package.json libs/sweep/
COPY libs/trainer/package.json libs/trainer/
COPY deploy/docker/install-prod-deps.sh /usr/local/bin/install-prod-deps
RUN sh /usr/local/bin/install-prod-deps none

# ---- dashboard: bundles the browser code, and compiles the CLI's entry (esbuild is a dev
# dependency; only the dist/ folders are kept) ------------------------------------------------
FROM ${NODE_IMAGE} AS dashboard
WORKDIR /app
COPY package.json package-lock.json ./
COPY apps/cli/package.json apps/cli/
COPY apps/coordinator/package.json apps/coordinator/
COPY apps/dashboard/package.json apps/dashboard/
COPY apps/worker/package.json apps/worker/
COPY libs/artifacts/package.json libs/artifacts/
COPY libs/data/package.json libs/data/
COPY libs/experiments/package.json libs/experiments/
COPY libs/model/package.json libs/model/
COPY libs/param-server/package.json libs/param-server/
COPY libs/protocol/package.json libs/protocol/
COPY libs/runtime/package.json libs/runtime/
COPY libs/sweep/package.json libs/sweep/
COPY libs/trainer/package.json libs/trainer/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY apps ./apps
COPY libs ./libs
RUN node apps/dashboard/scripts/build.mjs
# `mmim --help` and `mmim sweep ...` in the image start without tsx (what `npm ci`'s prepare
# does outside images); the build script only warns on failure, so check it wrote its manifest.
RUN node apps/cli/scripts/build.mjs && test -f apps/cli/dist/manifest.json

# ---- runtime --------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM to node (which shuts down cleanly) and reaps children.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mmim \
 && useradd --system --uid 10001 --gid mmim --no-create-home --home-dir /app --shell /usr/sbin/nologin mmim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app ./
COPY apps ./apps
COPY libs ./libs
COPY --from=dashboard /app/apps/dashboard/dist ./apps/dashboard/dist
COPY --from=dashboard /app/apps/cli/dist ./apps/cli/dist
COPY deploy/healthcheck ./deploy/healthcheck
COPY deploy/docker/entrypoint.sh /usr/local/bin/mmim-entrypoint
# Files stay root-owned and read-only to the service user; tsx's cache goes to /tmp.
USER 10001:10001
EXPOSE 50051 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "deploy/healthcheck/grpc-health.mjs", "127.0.0.1:50051"]
ENTRYPOINT ["tini", "--", "sh", "/usr/local/bin/mmim-entrypoint"]
CMD ["coordinator"]
