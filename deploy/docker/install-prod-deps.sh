#!/bin/sh
# Installs the production dependencies of the workspace in the current folder (run by the
# images' `deps` stages, after package.json, package-lock.json and every workspace's
# package.json were copied in):
#   1. `npm ci --omit=dev --ignore-scripts`: exactly the lock file's versions, no dev
#      dependencies, no install scripts (none of the production ones is needed; see 3);
#   2. tsx, which runs the TypeScript sources (there is no build step), and its esbuild, at the
#      lock file's versions, installed beside and merged in: tsx is a root devDependency, so
#      `--omit=dev` leaves it out and `npm install --omit=dev tsx` would not add it either;
#   3. the TensorFlow native backend of the flavour ($1):
#        none  removes @tensorflow/tfjs-node and tfjs-node-gpu (coordinator, CPU worker: wasm)
#        gpu   runs tfjs-node-gpu's install script (downloads libtensorflow 2.9.1 for
#              CUDA 11.2 / cuDNN 8.1 and the prebuilt N-API addon), removes tfjs-node
set -eu
flavour="${1:?usage: install-prod-deps.sh none|gpu}"

npm ci --omit=dev --ignore-scripts --no-audit --no-fund

lock_version() {
  node -e "const p = require('./package-lock.json').packages['node_modules/' + process.argv[1]];
    if (!p) { console.error('package-lock.json has no ' + process.argv[1]); process.exit(1); }
    console.log(p.version);" "$1"
}
tsx_version="$(lock_version tsx)"
esbuild_version="$(lock_version esbuild)"
npm install --prefix /tmp/tsx --no-save --no-package-lock --ignore-scripts --no-audit --no-fund \
  "tsx@$tsx_version" "esbuild@$esbuild_version"
for pkg in $(cd /tmp/tsx/node_modules && ls -d -- * @*/* 2>/dev/null | grep -v '^@[^/]*$'); do
  if [ -e "node_modules/$pkg" ]; then
    echo "install-prod-deps: node_modules/$pkg already exists; refusing to overwrite it with tsx's" >&2
    exit 1
  fi
  mkdir -p "node_modules/$(dirname "$pkg")"
  cp -a "/tmp/tsx/node_modules/$pkg" "node_modules/$pkg"
done
rm -rf /tmp/tsx

case "$flavour" in
  none)
    rm -rf node_modules/@tensorflow/tfjs-node node_modules/@tensorflow/tfjs-node-gpu
    ;;
  gpu)
    rm -rf node_modules/@tensorflow/tfjs-node
    npm rebuild --foreground-scripts @tensorflow/tfjs-node-gpu
    # Loads the addon and libtensorflow (no GPU needed to load; CUDA is opened lazily).
    node -e "require('@tensorflow/tfjs-node-gpu')" >/dev/null
    ;;
  *)
    echo "install-prod-deps: unknown flavour '$flavour' (none | gpu)" >&2
    exit 2
    ;;
esac
npm cache clean --force 2>/dev/null
