# syntax=docker/dockerfile:1
# A worker on CPU: TF.js's wasm backend (SIMD), no native TensorFlow. Build from the repository
# root:
#   docker build -f deploy/docker/worker-cpu.Dockerfile -t mmim-worker-cpu:0.1.0 .
# Run: docs/operations.md. The join token is the file /run/secrets/join-token; the Redis URL is
# MMIM_REDIS_URL or the file named by MMIM_REDIS_URL_FILE; MMIM_COORDINATOR=HOST:PORT.

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

# ---- runtime --------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM to node (which shuts down cleanly) and reaps children.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mmim \
 && useradd --system --uid 10001 --gid mmim --no-create-home --home-dir /app --shell /usr/sbin/nologin mmim
WORKDIR /app
# MMIM_LIVENESS_FILE: the worker touches it every 5 s while its event loop turns; the health
# check fails when it is older than MMIM_LIVENESS_MAX_AGE_S (60).
ENV NODE_ENV=production \
    MMIM_BACKEND=wasm \
    MMIM_LIVENESS_FILE=/tmp/mmim-worker-alive
COPY --from=deps /app ./
COPY apps ./apps
COPY libs ./libs
COPY deploy/healthcheck ./deploy/healthcheck
COPY deploy/docker/entrypoint.sh /usr/local/bin/mmim-entrypoint
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "deploy/healthcheck/worker-health.mjs"]
ENTRYPOINT ["tini", "--", "sh", "/usr/local/bin/mmim-entrypoint"]
CMD ["worker"]
