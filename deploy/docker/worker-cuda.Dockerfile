# syntax=docker/dockerfile:1
# A worker on an NVIDIA GPU: @tensorflow/tfjs-node-gpu 4.22, which links libtensorflow 2.9.1
# (scripts/deps-constants.js: LIBTENSORFLOW_VERSION = '2.9.1'), built against CUDA 11.2 and
# cuDNN 8.1 (TensorFlow 2.9's tested GPU configuration; the tfjs-node README's GPU table says
# the same). Hence the CUDA 11.2.2 + cuDNN 8.1.1 runtime base. The host needs an NVIDIA driver
# >= 450.80.02 and the NVIDIA container toolkit. Build from the repository root:
#   docker build -f deploy/docker/worker-cuda.Dockerfile -t mmim-worker-cuda:0.1.0 .
# Hopper GPUs (H100/H200, sm_90): CUDA 11.2 has no sm_90 kernels; build with
#   --build-arg CUDA_IMAGE=nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04
# (CUDA 11.x keeps the sonames libtensorflow 2.9 opens: libcudart.so.11.0, libcublas.so.11,
# libcudnn.so.8 ...; docs/operations.md).

ARG NODE_IMAGE=node:20.20.2-bookworm-slim
# The full image has python3, make and g++ should node-pre-gyp fall back to building the addon.
ARG NODE_BUILD_IMAGE=node:20.20.2-bookworm
ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04

# ---- node: the Node.js runtime to copy onto the CUDA base (upstream build, glibc >= 2.28) ---
FROM ${NODE_IMAGE} AS node

# ---- deps: production dependencies + tsx + tfjs-node-gpu's libtensorflow and addon ---------
FROM ${NODE_BUILD_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Every workspace's package.json: npm ci refuses a lock file whose workspaces are missing.
COPY apps/cli/package.json apps/cli/
COPY apps/coordinator/package.json apps/coordinator/
COPY apps/dashboard/package.json apps/dashboard/
COPY apps/worker/package.json apps/worker/
COPY libs/data/package.json libs/data/
COPY libs/experiments/package.json libs/experiments/
COPY libs/model/package.json libs/model/
COPY libs/param-server/package.json libs/param-server/
COPY libs/protocol/package.json libs/protocol/
COPY libs/runtime/package.json libs/runtime/
COPY libs/sweep/package.json libs/sweep/
COPY libs/trainer/package.json libs/trainer/
COPY deploy/docker/install-prod-deps.sh /usr/local/bin/install-prod-deps
RUN sh /usr/local/bin/install-prod-deps gpu

# ---- runtime --------------------------------------------------------------------------------
FROM ${CUDA_IMAGE} AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mmim \
 && useradd --system --uid 10001 --gid mmim --no-create-home --home-dir /app --shell /usr/sbin/nologin mmim
COPY --from=node /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
# MMIM_LIVENESS_FILE: the worker touches it every 5 s while its event loop turns; the health
# check fails when it is older than MMIM_LIVENESS_MAX_AGE_S (60).
ENV NODE_ENV=production \
    MMIM_BACKEND=tensorflow-gpu \
    MMIM_LIVENESS_FILE=/tmp/mmim-worker-alive \
    TF_CPP_MIN_LOG_LEVEL=1 \
    TF_FORCE_GPU_ALLOW_GROWTH=true \
    CUDA_CACHE_PATH=/tmp/cuda-cache
COPY --from=deps /app ./
COPY apps ./apps
COPY libs ./libs
COPY deploy/healthcheck ./deploy/healthcheck
COPY deploy/docker/entrypoint.sh /usr/local/bin/mmim-entrypoint
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "deploy/healthcheck/worker-health.mjs"]
ENTRYPOINT ["tini", "--", "sh", "/usr/local/bin/mmim-entrypoint"]
CMD ["worker"]
