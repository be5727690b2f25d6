#!/bin/sh
# Entry point of the MMIM images: `coordinator` or `worker` (the image's CMD), or any other
# command (a shell, `node apps/cli/bin/mmim.js ...`), run as given.
#
# Secrets stay in files (Docker/compose secrets, Kubernetes secret volumes), never in argv:
#   MMIM_JOIN_TOKEN_FILE   default /run/secrets/join-token   (required)
#   MMIM_ADMIN_TOKEN_FILE  default /run/secrets/admin-token  (coordinator; used when present)
#   MMIM_REDIS_URL_FILE    read into MMIM_REDIS_URL when that is unset (the URL carries the
#                          Redis password, so it is passed in the environment, not as --redis)
#   MMIM_EXCHANGE_REDIS_URL_FILE   read into MMIM_EXCHANGE_REDIS_URL when that is unset, the
#                          same way: workers' second Redis for the per-step exchange and the live
#                          model state (not --exchange-redis; an empty file: one Redis for all)
# Other settings:
#   MMIM_CLI               default /app/apps/cli/bin/mmim.js
#   MMIM_GRPC_PORT, MMIM_HTTP_PORT   coordinator ports (50051, 8080)
#   MMIM_COORDINATOR       worker: HOST:PORT of the coordinator (coordinator:50051)
#   MMIM_WORKER_NAME       worker: its name (default: the hostname = pod or container name)
#   MMIM_TLS_CERT, MMIM_TLS_KEY, MMIM_TLS_CA   PEM files: --tls-cert/--tls-key/--tls-ca
# Extra arguments after `coordinator`/`worker` are appended to the command line.
set -eu

if [ -n "${MMIM_REDIS_URL_FILE:-}" ] && [ -z "${MMIM_REDIS_URL:-}" ]; then
  MMIM_REDIS_URL="$(cat "$MMIM_REDIS_URL_FILE")"
  export MMIM_REDIS_URL
fi
if [ -n "${MMIM_EXCHANGE_REDIS_URL_FILE:-}" ] && [ -z "${MMIM_EXCHANGE_REDIS_URL:-}" ]; then
  MMIM_EXCHANGE_REDIS_URL="$(cat "$MMIM_EXCHANGE_REDIS_URL_FILE")"
  export MMIM_EXCHANGE_REDIS_URL
fi

cli="${MMIM_CLI:-/app/apps/cli/bin/mmim.js}"
join_token_file="${MMIM_JOIN_TOKEN_FILE:-/run/secrets/join-token}"
admin_token_file="${MMIM_ADMIN_TOKEN_FILE:-/run/secrets/admin-token}"

# Appends the TLS flags that have a file configured (the CLI checks that they go together).
tls_flags() {
  if [ -n "${MMIM_TLS_CERT:-}" ]; then set -- "$@" --tls-cert "$MMIM_TLS_CERT"; fi
  if [ -n "${MMIM_TLS_KEY:-}" ]; then set -- "$@" --tls-key "$MMIM_TLS_KEY"; fi
  if [ -n "${MMIM_TLS_CA:-}" ]; then set -- "$@" --tls-ca "$MMIM_TLS_CA"; fi
  printf '%s\n' "$@"
}

if [ "$#" -eq 0 ]; then
  echo "mmim-entrypoint: no command; expected 'coordinator', 'worker' or a command to run" >&2
  exit 2
fi

role="$1"
case "$role" in
  coordinator | worker)
    shift
    if [ ! -r "$join_token_file" ] && [ -z "${MMIM_JOIN_TOKEN:-}" ]; then
      echo "mmim-entrypoint: no join token: mount it at $join_token_file (MMIM_JOIN_TOKEN_FILE)" >&2
      exit 2
    fi
    # Build the argument list in front of the caller's extra arguments ("$@").
    extra_count=$#
    if [ "$role" = coordinator ]; then
      set -- "$@" coordinator \
        --host 0.0.0.0 --port "${MMIM_GRPC_PORT:-50051}" \
        --http-host 0.0.0.0 --http-port "${MMIM_HTTP_PORT:-8080}"
      if [ -r "$join_token_file" ]; then set -- "$@" --token-file "$join_token_file"; fi
      if [ -r "$admin_token_file" ]; then set -- "$@" --admin-token-file "$admin_token_file"; fi
    else
      set -- "$@" worker \
        --coordinator "${MMIM_COORDINATOR:-coordinator:50051}" \
        --name "${MMIM_WORKER_NAME:-$(hostname)}"
      if [ -r "$join_token_file" ]; then set -- "$@" --token-file "$join_token_file"; fi
    fi
    # TLS file paths never contain newlines (they are ours to choose), so one per line is safe.
    old_ifs="$IFS"
    IFS='
'
    # shellcheck disable=SC2046
    set -- "$@" $(tls_flags)
    IFS="$old_ifs"
    # Rotate the caller's extra arguments (the first extra_count) to the end.
    i=0
    while [ "$i" -lt "$extra_count" ]; do
      arg="$1"
      shift
      set -- "$@" "$arg"
      i=$((i + 1))
    done
    exec node "$cli" "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
