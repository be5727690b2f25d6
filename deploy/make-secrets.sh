#!/bin/sh
# Writes fresh random secrets for one deployment into DIR (nothing here is ever committed:
# the secrets folders are git-ignored):
#   join-token      workers present it to the coordinator (gRPC metadata)
#   admin-token     dashboard actions and sweep commands (HTTP bearer token)
#   redis-password  Redis `requirepass`
#   redis-url       redis://:PASSWORD@REDIS_HOST/0, what the coordinator and workers connect to
# Usage: deploy/make-secrets.sh DIR REDIS_HOST:PORT
#   compose:    deploy/make-secrets.sh deploy/compose/secrets redis:6379
#   Kubernetes: deploy/make-secrets.sh deploy/k8s/base/secrets mmim-redis:6379
# Existing files are kept (rotate a secret by deleting its file first; docs/operations.md).
set -eu
dir="${1:?usage: make-secrets.sh DIR REDIS_HOST:PORT}"
redis_host="${2:?usage: make-secrets.sh DIR REDIS_HOST:PORT}"

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
