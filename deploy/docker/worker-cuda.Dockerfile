# syntax=docker/dockerfile:1
# A worker on an NVIDIA GPU with two GPU backends (docs/operations.md, "GPU workers"):
# - tensorflow-gpu (the default, MMIM_BACKEND): @tensorflow/tfjs-node-gpu 4.22, which links
#   libtensorflow 2.9.1 (scripts/deps-constants.js: LIBTENSORFLOW_VERSION = '2.9.1'), built
#   against CUDA 11.2 and cuDNN 8.1. It opens CUDA 11 sonames (libcudart.so.11.0,
#   libcublas.so.11, libcudnn.so.8 ...), which every CUDA 11.x runtime carries (minor-version
#   compatibility), so the base is CUDA 11.8 + cuDNN 8: its libraries have sm_90 kernels for
#   H100/H200, where 11.2's have none. libtensorflow itself has no sm_90 code: the driver
#   JIT-compiles its PTX at start, cached on a volume (CUDA_CACHE_PATH below).
# - webgpu (MMIM_BACKEND=webgpu): TF.js's WebGPU backend on Dawn (npm `webgpu`), which reaches the
#   GPU through Vulkan (NVIDIA's ICD, libGLX_nvidia.so.0) or OpenGL ES (EGL). dawn.node needs
#   glibc >= 2.34 and libstdc++ with GLIBCXX_3.4.30: Ubuntu 22.04, not 20.04 (the only CUDA 11.2
#   bases), which is the other reason for the 11.8 base.
# The host needs an NVIDIA driver that supports its GPU (any R450+ runs CUDA 11.x libraries)
# and the NVIDIA container toolkit. Build from the repository root:
#   docker build -f deploy/docker/worker-cuda.Dockerfile -t mmim-worker-cuda:0.1.0 .

ARG NODE_IMAGE=node:20.20.2-bookworm-slim
# The full image has python3, make and g++ should node-pre-gyp fall back to building the addon.
ARG NODE_BUILD_IMAGE=node:20.20.2-bookworm
ARG CUDA_IMAGE=nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04

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
RUN sh /usr/local/bin/install-prod-deps gpu

# ---- runtime --------------------------------------------------------------------------------
FROM ${CUDA_IMAGE} AS runtime
# libvulkan1: the Vulkan loader Dawn opens (libvulkan.so.1); libegl1 + libgles2: glvnd's EGL and
# GLES dispatchers for Dawn's OpenGL ES route. The NVIDIA driver libraries behind them
# (libGLX_nvidia.so.0, libEGL_nvidia.so.0, ...) are not in the image: the container toolkit
# mounts them from the host when NVIDIA_DRIVER_CAPABILITIES includes `graphics`.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini ca-certificates \
      libvulkan1 libegl1 libgles2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mmim \
 && useradd --system --uid 10001 --gid mmim --no-create-home --home-dir /app --shell /usr/sbin/nologin mmim \
 && mkdir -p /var/cache/mmim/cuda \
 && chown 10001:10001 /var/cache/mmim/cuda
# The manifests that point the Vulkan loader and glvnd's EGL at NVIDIA's driver (the toolkit
# mounts the libraries, not always these files; nvidia/vulkan and nvidia/opengl images ship the same).
COPY deploy/docker/nvidia/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json
COPY deploy/docker/nvidia/10_nvidia.json /usr/share/glvnd/egl_vendor.d/10_nvidia.json
COPY --from=node /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
# MMIM_LIVENESS_FILE: the worker touches it every 5 s while its event loop turns; the health
# check fails when it is older than MMIM_LIVENESS_MAX_AGE_S (60).
# NVIDIA_DRIVER_CAPABILITIES: compute + utility (CUDA, nvidia-smi) are the base image's; graphics
# makes the toolkit mount the Vulkan/EGL driver libraries the webgpu backend needs.
# CUDA_CACHE_PATH: the driver's JIT cache (libtensorflow's PTX compiled for sm_90 takes minutes
# at the first start); mount a volume here so that restarts reuse it. CUDA_CACHE_MAXSIZE: the
# largest the driver allows, 4 GiB: with the default (256 MiB to 1 GiB, by driver version)
# libtensorflow's compiled kernels evict each other and the next start compiles again.
# MMIM_BACKEND: tensorflow-gpu, or webgpu (MMIM_WEBGPU_ROUTE=vulkan|opengles picks Dawn's route).
ENV NODE_ENV=production \
    MMIM_BACKEND=tensorflow-gpu \
    MMIM_LIVENESS_FILE=/tmp/mmim-worker-alive \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics \
    TF_CPP_MIN_LOG_LEVEL=1 \
    TF_FORCE_GPU_ALLOW_GROWTH=true \
    CUDA_CACHE_PATH=/var/cache/mmim/cuda \
    CUDA_CACHE_MAXSIZE=4294967296
COPY --from=deps /app ./
# Dawn (npm `webgpu`) loaded once: a base whose glibc or libstdc++ is too old for dawn.node fails
# the build here, not a worker at start. Loading needs no GPU (Vulkan and EGL open lazily).
RUN node --input-type=module -e "await import('webgpu')"
COPY apps ./apps
COPY libs ./libs
COPY deploy/healthcheck ./deploy/healthcheck
COPY deploy/docker/entrypoint.sh /usr/local/bin/mmim-entrypoint
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "deploy/healthcheck/worker-health.mjs"]
ENTRYPOINT ["tini", "--", "sh", "/usr/local/bin/mmim-entrypoint"]
CMD ["worker"]
