#!/usr/bin/env bash
# The system packages the test suite needs (npm test runs this first, as `pretest`).
# On a machine that has them all it says nothing and takes a moment. Otherwise, as root with
# apt-get (Debian/Ubuntu) it installs the missing ones, saying which; anywhere else it names them
# and the command that installs them, and fails (nothing is skipped silently).
set -euo pipefail

missing=()   # "package: why" lines
need() { missing+=("$1: $2"); }

command -v redis-server >/dev/null || need redis-server 'the param-server, experiment and cluster tests start their own'
command -v redis-cli >/dev/null || need redis-tools 'the partition test talks to Redis inside a network namespace'
command -v openssl >/dev/null || need openssl 'TLS test certificates'
[ -x /usr/bin/chromium ] || need chromium 'dashboard browser tests (playwright-core drives Debian chromium)'
command -v kubectl >/dev/null || need kubernetes-client 'test/deploy renders the kustomize overlays'
/usr/bin/python3 -c 'import numpy' 2>/dev/null || need python3-numpy 'libs/data checks that its pickles load in numpy'
# The webgpu backend's tests: Dawn's OpenGL ES route on Mesa's llvmpipe (EGL, GLES, the DRI
# software rasteriser).
[ -e /usr/share/glvnd/egl_vendor.d/50_mesa.json ] || need 'libegl1 libegl-mesa0 libgles2' 'webgpu tests (EGL through Mesa)'
ls /usr/lib/*/dri/swrast_dri.so >/dev/null 2>&1 || need libgl1-mesa-dri 'webgpu tests (the llvmpipe rasteriser)'
command -v unshare >/dev/null || need util-linux 'the webgpu adapter test makes a mount namespace'
command -v ip >/dev/null || need iproute2 'test/cluster/partition.test.ts: hosts as network namespaces'
command -v dpkg-deb >/dev/null || need dpkg 'the GPU check test packs Debian loader packages'

((${#missing[@]} == 0)) && exit 0

packages=()
for line in "${missing[@]}"; do
  read -r -a names <<<"${line%%:*}"
  packages+=("${names[@]}")
done

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test-deps: installing the system packages the tests need:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >&2
  exit 0
fi

echo "test-deps: the tests need these system packages, which are missing:" >&2
printf '  %s\n' "${missing[@]}" >&2
echo "install them (Debian/Ubuntu, as root): apt-get install -y ${packages[*]}" >&2
echo "(run npm test as root and it installs them itself)" >&2
exit 1
