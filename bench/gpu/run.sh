#!/usr/bin/env bash
# bench/gpu/run.sh: the GPU check, in one call on an NVIDIA machine (see bench/gpu/README.md).
#
#   bash bench/gpu/run.sh [OUTPUT_DIR]     # from the repository root, with bench/gpu/dist beside it
#
# Needs no Node.js, no node_modules and no network: Node, the bundles, the Dawn addon and the
# Vulkan/EGL loader packages come from bench/gpu/dist (npm run gpu-check:pack). In order:
#   nvidia-smi        the GPU, its driver, the device nodes
#   unpack            node and the bundles into a temporary folder
#   loaders           Debian's libvulkan/glvnd packages, unpacked into that folder (never into /);
#                     only those the machine lacks are put on LD_LIBRARY_PATH
#   icd               NVIDIA's Vulkan ICD manifest: VK_DRIVER_FILES, the standard folders,
#                     /usr/local/nvidia/..., or one written here naming libGLX_nvidia.so.0
#   probe             what Dawn sees on each route; picks the route; matMul check and GFLOP/s
#   parity            libs/model's parity suite on webgpu (MMIM_TEST_BACKEND=webgpu), the kernel
#                     equivalence tests (WGSL vs JS) and the stepper's behaviour suite on webgpu
#   bench-webgpu-tiny, bench-wasm-tiny, bench-webgpu-base
#                     bench/model-step on webgpu (tiny BERT; BERT-base fully fine-tuned, batch 32)
#                     and on wasm (tiny BERT) as the baseline
# A part that fails or times out is recorded and the next one runs. Every part has a timeout and
# the whole run a budget; parts that no longer fit are skipped.
#
# Output (at most 8 files, what the device tool brings back): $OUT when set, else OUTPUT_DIR,
# else runs/gpu-check: summary.md, summary.json (rewritten after every part), system.log,
# probe.log, parity.log, bench.log. The summary is also printed at the end. Exit 0 when no part
# failed, timed out or was left out for lack of time.
#
# Environment:
#   GPU_CHECK_SIMULATE=llvmpipe  no GPU (CI, a laptop): skips nvidia-smi and the ICD, takes Dawn's
#                                OpenGL ES route on Mesa's llvmpipe, 1 timed step, no BERT-base
#   GPU_CHECK_ROUTE=vulkan|opengles   Dawn's route (default: the probe's first hardware adapter)
#   GPU_CHECK_BUDGET_S=540       seconds for the whole run
#   GPU_CHECK_TINY_ARGS, GPU_CHECK_BASE_ARGS, GPU_CHECK_WASM_ARGS
#                                bench/model-step's arguments for each bench part (defaults below)
#   GPU_CHECK_DIST=DIR           the pack (default bench/gpu/dist); GPU_CHECK_KEEP=1 keeps the
#                                unpacked files
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIST=${GPU_CHECK_DIST:-$ROOT/bench/gpu/dist}
OUT_DIR=${OUT:-${1:-$ROOT/runs/gpu-check}}
SIMULATE=${GPU_CHECK_SIMULATE:-}
BUDGET=${GPU_CHECK_BUDGET_S:-540}
T_START=$(date +%s)
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)

case "$SIMULATE" in
  '') MODE=nvidia ;;
  llvmpipe) MODE=simulate-llvmpipe ;;
  *) echo "GPU_CHECK_SIMULATE is '$SIMULATE'; expected llvmpipe or nothing" >&2; exit 2 ;;
esac
if [ "$MODE" = nvidia ]; then
  TINY_ARGS=${GPU_CHECK_TINY_ARGS:---only tiny --steps 20 --no-torch --no-baseline}
  BASE_ARGS=${GPU_CHECK_BASE_ARGS:---only base-full --steps 3 --no-torch --no-baseline}
  WASM_ARGS=${GPU_CHECK_WASM_ARGS:---only tiny --steps 3 --no-torch}
  MATMUL_N=4096
else
  TINY_ARGS=${GPU_CHECK_TINY_ARGS:---only tiny --steps 1 --no-torch --no-baseline}
  BASE_ARGS=''
  WASM_ARGS=${GPU_CHECK_WASM_ARGS:---only tiny --steps 1 --no-torch}
  MATMUL_N=256
fi

mkdir -p "$OUT_DIR" || { echo "cannot create $OUT_DIR" >&2; exit 2; }
OUT_DIR=$(cd "$OUT_DIR" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
APP=$WORK/app
NODE=$WORK/node/bin/node
SYSTEM_LOG=$OUT_DIR/system.log
PROBE_LOG=$OUT_DIR/probe.log
PARITY_LOG=$OUT_DIR/parity.log
BENCH_LOG=$OUT_DIR/bench.log
: >"$SYSTEM_LOG"; : >"$PROBE_LOG"; : >"$PARITY_LOG"; : >"$BENCH_LOG"

cleanup() { [ "${GPU_CHECK_KEEP:-}" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT

# --- bookkeeping -----------------------------------------------------------------------------

PARTS=()   # name|status|seconds|log|note       (status: passed, failed, timeout, skipped)
FIGURES=() # part|config|ms_per_step|samples_per_s
GPU_NAME=''
ADAPTER=''
ROUTE=${GPU_CHECK_ROUTE:-}
PROBE_JSON=''
MANIFEST_JSON=''
RC=1 SECS=0

log() { printf '%s\n' "$*" | tee -a "$SYSTEM_LOG"; }
left() { echo $((BUDGET - ($(date +%s) - T_START))); }

json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/ }
  s=$(printf '%s' "$s" | tr -d '\000-\037')
  printf '"%s"' "$s"
}

record() { # NAME STATUS SECONDS LOG NOTE
  local note=${5//|//}
  PARTS+=("$1|$2|$3|$4|$note")
  printf '== %-18s %-8s %4ss  %s\n' "$1" "$2" "$3" "$note"
  write_summary
}

write_summary() {
  local now ok=true p name status secs logf note f part config ms sps sep
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for p in "${PARTS[@]}"; do
    IFS='|' read -r name status secs logf note <<<"$p"
    case "$status" in failed | timeout) ok=false ;; esac
    [ "$note" = 'out of time' ] && ok=false
  done
  {
    printf '{\n  "check": "mmim gpu-check",\n  "mode": "%s",\n' "$MODE"
    printf '  "started": "%s",\n  "updated": "%s",\n  "seconds": %s,\n' \
      "$STARTED" "$now" "$(($(date +%s) - T_START))"
    printf '  "ok": %s,\n  "route": %s,\n  "gpu": %s,\n  "adapter": %s,\n' \
      "$ok" "$(json_str "$ROUTE")" "$(json_str "$GPU_NAME")" "$(json_str "$ADAPTER")"
    printf '  "pack": %s,\n' "${MANIFEST_JSON:-null}"
    printf '  "probe": %s,\n' "${PROBE_JSON:-null}"
    printf '  "parts": ['
    sep=''
    for p in "${PARTS[@]}"; do
      IFS='|' read -r name status secs logf note <<<"$p"
      printf '%s\n    {"name": %s, "status": "%s", "seconds": %s, "log": %s, "note": %s}' "$sep" \
        "$(json_str "$name")" "$status" "$secs" "$(json_str "$logf")" "$(json_str "$note")"
      sep=','
    done
    printf '\n  ],\n  "figures": ['
    sep=''
    for f in "${FIGURES[@]}"; do
      IFS='|' read -r part config ms sps <<<"$f"
      printf '%s\n    {"part": %s, "config": %s, "ms_per_step": %s, "samples_per_s": %s}' "$sep" \
        "$(json_str "$part")" "$(json_str "$config")" "$ms" "$sps"
      sep=','
    done
    printf '\n  ]\n}\n'
  } >"$OUT_DIR/summary.json.tmp" && mv "$OUT_DIR/summary.json.tmp" "$OUT_DIR/summary.json"

  {
    printf '# GPU check (%s), %s\n\n' "$MODE" "$STARTED"
    printf -- '- result: **%s** after %s s\n' "$([ "$ok" = true ] && echo 'no failures' || echo FAILURES)" \
      "$(($(date +%s) - T_START))"
    printf -- '- GPU: %s\n- WebGPU adapter: %s (Dawn route: %s)\n' "${GPU_NAME:-none}" \
      "${ADAPTER:-none}" "${ROUTE:-not chosen}"
    printf -- '- pack: %s\n\n' "$(pack_line)"
    printf '| part | status | seconds | note |\n| --- | --- | --- | --- |\n'
    for p in "${PARTS[@]}"; do
      IFS='|' read -r name status secs logf note <<<"$p"
      printf '| %s | %s | %s | %s |\n' "$name" "$status" "$secs" "$note"
    done
    if ((${#FIGURES[@]})); then
      printf '\n| bench part | configuration | ms/step | samples/s (batch 32) |\n| --- | --- | --- | --- |\n'
      for f in "${FIGURES[@]}"; do
        IFS='|' read -r part config ms sps <<<"$f"
        printf '| %s | %s | %s | %s |\n' "$part" "$config" "$ms" "$sps"
      done
    fi
  } >"$OUT_DIR/summary.md.tmp" && mv "$OUT_DIR/summary.md.tmp" "$OUT_DIR/summary.md"
}

pack_line() {
  [ -n "$MANIFEST_JSON" ] || { echo 'none'; return; }
  printf '%s' "$MANIFEST_JSON" | tr -d '\n' |
    sed -E 's/.*"packed": *"([^"]*)".*"commit": *"([^"]*)".*"dirty": *(true|false).*/commit \2 (uncommitted changes: \3), packed \1/'
}

# Runs "$@" with a timeout of min(WANT, what is left of the budget - 10 s), appending its output
# to LOGFILE. Sets RC (124: timed out; 125: no time left, not run) and SECS.
run_logged() { # LOGFILE WANT_S CMD...
  local logfile=$1 want=$2 limit t0
  shift 2
  limit=$(($(left) - 10))
  ((limit > want)) && limit=$want
  if ((limit < 15)); then
    RC=125 SECS=0
    return
  fi
  printf '\n$ %s    (timeout %s s, %s)\n' "$*" "$limit" "$(date -u +%H:%M:%S)" >>"$logfile"
  t0=$(date +%s)
  timeout -k 10 "$limit" "$@" >>"$logfile" 2>&1
  RC=$?
  ((RC == 137)) && RC=124
  SECS=$(($(date +%s) - t0))
  printf '[exit %s after %s s]\n' "$RC" "$SECS" >>"$logfile"
}

show_tail() { # LOGFILE N: the end of a part's log on stdout, indented
  tail -n "$2" "$1" | cut -c1-300 | sed 's/^/    /'
}

# --- 1. nvidia-smi -------------------------------------------------------------------------

log "# gpu-check $MODE, $STARTED, output in $OUT_DIR"
log "host: $(uname -a)"
log "os: $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}")"
log "glibc: $(ldd --version 2>/dev/null | head -n1)"
log "cpus: $(nproc 2>/dev/null); memory: $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo 2>/dev/null)"
t0=$(date +%s)
if command -v nvidia-smi >/dev/null; then
  { echo; echo '$ nvidia-smi'; nvidia-smi 2>&1; echo; echo '$ nvidia-smi -q | head -n 60'
    nvidia-smi -q 2>&1 | head -n 60; } | tee -a "$SYSTEM_LOG"
  GPU_NAME=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null |
    head -n1)
  if [ -n "$GPU_NAME" ]; then
    record nvidia-smi passed $(($(date +%s) - t0)) system.log "$GPU_NAME"
  else
    record nvidia-smi failed $(($(date +%s) - t0)) system.log 'nvidia-smi found no GPU'
  fi
elif [ "$MODE" = nvidia ]; then
  record nvidia-smi failed 0 system.log 'nvidia-smi not found'
else
  record nvidia-smi skipped 0 system.log 'simulated: no GPU expected'
fi
log "device nodes: $(ls /dev/nvidia* /dev/dri/* 2>/dev/null | tr '\n' ' ')"

# --- 2. unpack -----------------------------------------------------------------------------

t0=$(date +%s)
if [ -f "$DIST/MANIFEST.json" ]; then
  MANIFEST_JSON=$(cat "$DIST/MANIFEST.json")
  log "pack: $(pack_line)"
fi
if [ ! -f "$DIST/payload.tar.xz" ]; then
  record unpack failed 0 system.log "no $DIST/payload.tar.xz: run npm run gpu-check:pack and carry bench/gpu/dist"
elif { if command -v xz >/dev/null && tar --version >/dev/null 2>&1; then
         echo "unpacking with tar + xz"
         tar -C "$WORK" -xJf "$DIST/payload.tar.xz"
       else
         echo "unpacking with python3's tarfile (no xz here)"
         python3 - "$DIST/payload.tar.xz" "$WORK" <<'EOF'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    if hasattr(tarfile, 'tar_filter'):
        t.extractall(sys.argv[2], filter='tar')
    else:
        t.extractall(sys.argv[2])
EOF
       fi; } >>"$SYSTEM_LOG" 2>&1 && NODE_VERSION=$("$NODE" --version 2>>"$SYSTEM_LOG"); then
  record unpack passed $(($(date +%s) - t0)) system.log "node $NODE_VERSION; $(du -sm "$WORK" | cut -f1) MB unpacked"
else
  record unpack failed $(($(date +%s) - t0)) system.log 'could not unpack the payload or run its node (see system.log)'
fi

# --- 3. loaders ----------------------------------------------------------------------------

unpack_deb() { # DEB DEST: dpkg-deb when there is one, else Python (a .deb is an ar archive)
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$1" "$2"
  else
    python3 - "$1" "$2" <<'EOF'
import io, sys, tarfile
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'!<arch>\n', 'not a .deb'
pos = 8
while pos + 60 <= len(data):
    name = data[pos:pos + 16].decode().strip().rstrip('/')
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    pos += 60 + size + (size & 1)
    if name.startswith('data.tar'):
        with tarfile.open(fileobj=io.BytesIO(body)) as t:
            t.extractall(sys.argv[2])
EOF
  fi
}

t0=$(date +%s)
GL=$WORK/gl-root
LIBDIR=$GL/usr/lib/x86_64-linux-gnu
debs=("$WORK"/gl/*.deb)
if [ ! -e "${debs[0]}" ]; then
  record loaders skipped 0 system.log 'no .deb in the pack'
else
  mkdir -p "$GL"
  failed_debs=''
  for deb in "${debs[@]}"; do
    unpack_deb "$deb" "$GL" >>"$SYSTEM_LOG" 2>&1 || failed_debs+=" $(basename "$deb")"
  done
  ldcache=$( (ldconfig -p || /sbin/ldconfig -p) 2>/dev/null)
  kept='' system=''
  for lib in "$LIBDIR"/*.so.*; do
    [ -e "$lib" ] || continue
    name=$(basename "$lib")
    # The machine's own copy wins: ours are only for what it lacks.
    if grep -qE "^[[:space:]]*${name//./\\.} \([^)]*x86-64" <<<"$ldcache"; then
      rm -f "$lib"
      system+=" $name"
    elif [ -L "$lib" ] || [[ $name =~ \.so\.[0-9]+$ ]]; then
      kept+=" $name"
    fi
  done
  log "loaders: the machine has:${system:- none of them}"
  log "loaders: from the pack:${kept:- none}"
  export LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if [ -n "$failed_debs" ]; then
    record loaders failed $(($(date +%s) - t0)) system.log "could not unpack:$failed_debs"
  else
    record loaders passed $(($(date +%s) - t0)) system.log "from the pack:${kept:- none (the machine has them all)}"
  fi
fi
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [ -d "$d" ] && case ":${LD_LIBRARY_PATH:-}:" in *":$d:"*) ;; *) export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d" ;; esac
done
log "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
{ echo '$ ldconfig -p | grep -E "vulkan|EGL|GLX|GLdispatch|nvidia"'
  (ldconfig -p || /sbin/ldconfig -p) 2>/dev/null | grep -E 'vulkan|EGL|GLX|GLdispatch|nvidia' | head -n 40
} >>"$SYSTEM_LOG"

# --- 4. icd --------------------------------------------------------------------------------

find_lib() { # NAME: the first copy on the loader's cache, LD_LIBRARY_PATH or the usual folders
  local name=$1 d hit
  hit=$( (ldconfig -p || /sbin/ldconfig -p) 2>/dev/null | awk -v n="$name" '$1 == n && /x86-64/ {print $NF; exit}')
  if [ -n "$hit" ]; then echo "$hit"; return; fi
  IFS=':' read -ra dirs <<<"${LD_LIBRARY_PATH:-}"
  for d in "${dirs[@]}" /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu /usr/lib64 /lib64; do
    [ -n "$d" ] && [ -e "$d/$name" ] && { echo "$d/$name"; return; }
  done
}

t0=$(date +%s)
if [ "$MODE" != nvidia ]; then
  record icd skipped 0 system.log 'simulated: no NVIDIA driver'
else
  icd='' how=''
  IFS=':' read -ra listed <<<"${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-}}"
  for f in "${listed[@]}"; do
    [ -n "$f" ] && [ -f "$f" ] && [[ $(basename "$f") == *nvidia* ]] && { icd=$f how='from VK_DRIVER_FILES'; break; }
  done
  if [ -z "$icd" ]; then
    for d in /etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d \
      /usr/local/nvidia/share/vulkan/icd.d /usr/local/nvidia/icd.d; do
      for f in "$d"/*nvidia*.json; do
        [ -f "$f" ] && { icd=$f how='found'; break 2; }
      done
    done
  fi
  glx=$(find_lib libGLX_nvidia.so.0)
  if [ -z "$icd" ]; then
    mkdir -p "$WORK/icd"
    icd=$WORK/icd/nvidia_icd.json
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3"}}\n' \
      "${glx:-libGLX_nvidia.so.0}" >"$icd"
    how='written'
  fi
  export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
  { echo "icd ($how): $icd"; cat "$icd"; echo
    echo "libGLX_nvidia.so.0: ${glx:-not found}"
    [ -n "$glx" ] && { echo "\$ ldd $glx | grep 'not found'"; ldd "$glx" 2>&1 | grep 'not found' || echo '(none missing)'; }
  } >>"$SYSTEM_LOG"
  # glvnd's EGL (Dawn's OpenGL ES route) needs NVIDIA's vendor manifest too.
  if ! ls /etc/glvnd/egl_vendor.d/*nvidia* /usr/share/glvnd/egl_vendor.d/*nvidia* >/dev/null 2>&1 &&
    [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ]; then
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    log "EGL vendor: $__EGL_VENDOR_LIBRARY_FILENAMES"
  fi
  if [ -z "$glx" ]; then
    record icd failed $(($(date +%s) - t0)) system.log \
      "ICD $how ($icd) but libGLX_nvidia.so.0 is not on this machine (driver capability 'graphics' missing?)"
  else
    record icd passed $(($(date +%s) - t0)) system.log "$how: $icd -> $glx"
  fi
fi

# --- 5. probe ------------------------------------------------------------------------------

# Mesa's and NVIDIA's EGL without a display.
[ -z "${DISPLAY:-}" ] && export EGL_PLATFORM=${EGL_PLATFORM:-surfaceless}
[ "$MODE" != nvidia ] && ROUTE=${ROUTE:-opengles}
probe_args=(--matmul "$MATMUL_N")
[ "$MODE" != nvidia ] && probe_args+=(--allow-software)
if [ ! -x "$NODE" ]; then
  record probe failed 0 probe.log 'no node (unpack failed)'
else
  (cd "$APP" && run_logged "$PROBE_LOG" 90 env ${ROUTE:+MMIM_WEBGPU_ROUTE=$ROUTE} \
    "$NODE" bench/gpu/probe.mjs "${probe_args[@]}"; echo "$RC $SECS" >"$WORK/rc")
  read -r RC SECS <"$WORK/rc"
  chosen=$(sed -n 's/^chosen-route: //p' "$PROBE_LOG" | tail -n1)
  ROUTE=${ROUTE:-${chosen:-vulkan}}
  PROBE_JSON=$(sed -n 's/^probe-result: //p' "$PROBE_LOG" | tail -n1)
  [[ $PROBE_JSON == \{* ]] || PROBE_JSON=''
  ADAPTER=$(printf '%s' "$PROBE_JSON" | sed -n 's/.*"device":"\([^"]*\)".*/\1/p' | head -n1)
  matmul=$(grep -E '^matMul [0-9]+x[0-9]+ float32' "$PROBE_LOG" | tail -n1)
  show_tail "$PROBE_LOG" 8
  case "$RC" in
    0) record probe passed "$SECS" probe.log "route $ROUTE: ${ADAPTER:-?}; ${matmul:-no matMul figure}" ;;
    124) record probe timeout "$SECS" probe.log "no answer in time" ;;
    125) record probe skipped 0 probe.log 'out of time' ;;
    *) record probe failed "$SECS" probe.log "$(grep -E 'FAILED|Error' "$PROBE_LOG" | tail -n1 | cut -c1-200)" ;;
  esac
fi
export MMIM_WEBGPU_ROUTE=$ROUTE
log "Dawn route for the rest: $ROUTE"

# --- 6. parity -----------------------------------------------------------------------------

if [ ! -x "$NODE" ]; then
  record parity failed 0 parity.log 'no node (unpack failed)'
else
  (cd "$APP" && run_logged "$PARITY_LOG" 150 env MMIM_TEST_BACKEND=webgpu MMIM_LOG_LEVEL=info \
    "$NODE" --test --test-reporter=spec libs/model/src/parity.test.mjs \
    libs/model/src/kernels/kernels.test.mjs libs/model/src/model-webgpu.test.mjs
    echo "$RC $SECS" >"$WORK/rc")
  read -r RC SECS <"$WORK/rc"
  show_tail "$PARITY_LOG" 14
  # The backend the suite started (initBackend logs it): webgpu, or whatever it took instead.
  ran_on=$(grep -o '"backend":"[a-z-]*"' "$PARITY_LOG" | cut -d'"' -f4 | sort -u | paste -sd, -)
  grep -q '"backend":"webgpu"' "$PARITY_LOG" && ran_on=webgpu
  counts="$(sed -n 's/^ℹ pass /pass /p' "$PARITY_LOG" | tail -n1), $(sed -n 's/^ℹ fail /fail /p' "$PARITY_LOG" | tail -n1)"
  if [ "$RC" = 125 ]; then
    record parity skipped 0 parity.log 'out of time'
  elif [ "$RC" = 124 ]; then
    record parity timeout "$SECS" parity.log "timed out ($counts so far)"
  elif [ -n "$ran_on" ] && [ "$ran_on" != webgpu ]; then
    record parity failed "$SECS" parity.log "ran on $ran_on, not webgpu: the suite ignored MMIM_TEST_BACKEND=webgpu"
  elif [ "$RC" = 0 ]; then
    record parity passed "$SECS" parity.log "$counts on ${ran_on:-an unconfirmed backend} ($ROUTE)"
  else
    record parity failed "$SECS" parity.log "$counts; $(grep -m1 -E '^ *(✖|not ok)' "$PARITY_LOG" | sed 's/^ *//' | cut -c1-160)"
  fi
fi

# --- 7. bench/model-step ---------------------------------------------------------------------

bench_part() { # NAME BACKEND WANT_S ARGS
  local name=$1 backend=$2 want=$3 args=$4 start header lines line fails
  if [ ! -x "$NODE" ]; then
    record "$name" failed 0 bench.log 'no node (unpack failed)'
    return
  fi
  start=$(wc -l <"$BENCH_LOG")
  printf '\n## %s\n' "$name" >>"$BENCH_LOG"
  # From app/: the bench starts its children with `node --import tsx`, answered by the pack's stub.
  # shellcheck disable=SC2086 # ARGS is a flag list
  (cd "$APP" && run_logged "$BENCH_LOG" "$want" "$NODE" bench/model-step/main.mjs --backend "$backend" $args
    echo "$RC $SECS" >"$WORK/rc")
  read -r RC SECS <"$WORK/rc"
  lines=$(tail -n +"$((start + 1))" "$BENCH_LOG")
  show_tail <(printf '%s\n' "$lines") 6
  header=$(grep -m1 '^bench/model-step |' <<<"$lines")
  fails=$(grep -E '^ours .*FAILED' <<<"$lines" | head -n1 | cut -c1-200)
  local figures=0
  while read -r line; do
    [ -n "$line" ] || continue
    # "ours    webgpu   tiny     312 ms/step    102.7 samples/s ..."
    FIGURES+=("$name|$(awk '{print $3 "|" $4 "|" $6}' <<<"$line")")
    figures=$((figures + 1))
  done < <(grep -E '^ours +[^ ]+ +[^ ]+ +[0-9.]+ ms/step +[0-9.]+ samples/s' <<<"$lines")
  if [ "$RC" = 125 ]; then
    record "$name" skipped 0 bench.log 'out of time'
  elif [ "$RC" = 124 ]; then
    record "$name" timeout "$SECS" bench.log "timed out after $SECS s ($figures figure(s) before that)"
  elif [ -n "$header" ] && ! grep -q "| backend $backend " <<<"$header"; then
    record "$name" failed "$SECS" bench.log "asked for $backend, ran on: ${header#*| backend }"
  elif [ "$RC" != 0 ] || [ -n "$fails" ] || ((figures == 0)); then
    [ -n "$fails" ] || fails=$(grep -m1 -E 'Error|error:' <<<"$lines" | sed 's/^ *//' | cut -c1-200)
    record "$name" failed "$SECS" bench.log "exit $RC, $figures figure(s): ${fails:-see bench.log}"
  else
    record "$name" passed "$SECS" bench.log "$(grep -E '^ours ' <<<"$lines" | sed -E 's/ +/ /g' | paste -sd ';' -)"
  fi
}

bench_part bench-webgpu-tiny webgpu 120 "$TINY_ARGS"
bench_part bench-wasm-tiny wasm 60 "$WASM_ARGS"
if [ -n "$BASE_ARGS" ]; then
  bench_part bench-webgpu-base webgpu 240 "$BASE_ARGS"
else
  record bench-webgpu-base skipped 0 bench.log 'simulated: BERT-base at batch 32 is hours on llvmpipe'
fi

# --- summary -------------------------------------------------------------------------------

write_summary
echo
cat "$OUT_DIR/summary.md"
grep -q '"ok": true' "$OUT_DIR/summary.json"
