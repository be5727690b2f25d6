#!/bin/sh
# Writes fresh random secrets for one deployment into DIR (nothing here is ever committed:
# the secrets folders are git-ignored):
#   join-token               workers present it to the coordinator (gRPC metadata)
#   admin-token              dashboard actions and sweep commands (HTTP bearer token)
#   redis-password           the durable Redis's `requirepass`
#   redis-url                redis://:PASSWORD@REDIS_HOST/0, what the coordinator and workers
#                            connect to (the record, the queue, checkpoints)
#   exchange-redis-password  the exchange Redis's `requirepass` (a password of its own)
#   exchange-redis-url       redis://:PASSWORD@EXCHANGE_REDIS_HOST/0, the workers' second Redis
#                            for the per-step exchange and the live model state (no persistence)
# Usage: deploy/make-secrets.sh DIR REDIS_HOST:PORT [EXCHANGE_REDIS_HOST:PORT]
#   (EXCHANGE_REDIS_HOST:PORT defaults to exchange-redis:6379, the compose service)
#   compose:    deploy/make-secrets.sh deploy/compose/secrets redis:6379
#   Kubernetes: deploy/make-secrets.sh deploy/k8s/base/secrets mmim-redis:6379 mmim-exchange-redis:6379
# Existing files are kept (rotate a secret by deleting its file first; docs/operations.md).
set -eu
usage='usage: make-secrets.sh DIR REDIS_HOST:PORT [EXCHANGE_REDIS_HOST:PORT]'
if [ "$#" -lt 2 ] || [ "$#" -gt 3 ] || [ -z "$1" ] || [ -z "$2" ]; then
  echo "$usage" >&2
  exit 2
fi
dir="$1"
redis_host="$2"
exchange_redis_host="${3:-exchange-redis:6379}"

mkdir -p "$dir"
chmod 0700 "$dir"
# 0644 files in a 0700 folder: only the owner reaches them on the host, while compose's
# file secrets (bind mounts that keep the host mode) stay readable by the images' user 10001.
umask 022

random_hex() {
  # 32 random bytes as 64 hex characters (the coordinator warns below 32 characters).
  od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
}

write_new() {
  if [ -e "$dir/$1" ]; then
    echo "kept    $dir/$1"
  else
    printf '%s' "$2" > "$dir/$1"
    echo "created $dir/$1"
  fi
}

write_new join-token "$(random_hex)"
write_new admin-token "$(random_hex)"
write_new redis-password "$(random_hex)"
write_new redis-url "redis://:$(cat "$dir/redis-password")@$redis_host/0"
write_new exchange-redis-password "$(random_hex)"
write_new exchange-redis-url "redis://:$(cat "$dir/exchange-redis-password")@$exchange_redis_host/0"
