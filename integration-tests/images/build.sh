#!/usr/bin/env bash
# Builds the local images the end-to-end tests run, without any registry: each image is a
# folder holding one binary and the shared libraries `ldd` lists, imported with
# `docker import`. Images are rebuilt only when their contents change (the folder's hash
# is stored as a label).
#
#   obs-demo:latest          the demo service (target/<profile>/obs-demo)
#   <example>:latest         each example service, under the image name and binary path its
#                            generated docker-compose.yml uses (the SERVICES table below)
#   obs-sink:local           stands in for Alertmanager receivers, Loki and Elasticsearch in e2e stacks
#   obs-prometheus3:local    Prometheus 3.5 LTS from Debian sid (scripts/test.sh unpacks it
#                            under target/tools/sid/root, or OBS_SID_ROOT)
#   obs-prometheus:local     Debian bookworm's /usr/bin/prometheus (2.42)
#   obs-alertmanager:local   Alertmanager 0.33 from Debian sid
#   obs-pushgateway:local    Debian's /usr/bin/prometheus-pushgateway
#   obs-victoria-metrics:local, obs-vmagent:local, obs-vmalert:local
#                            Debian's victoria-metrics, vmagent and vmalert (the scale-out stack)
#   obs-postgres:local       Debian's PostgreSQL, standing in for postgres:16-alpine
#   obs-redis:local          Debian's redis-server, standing in for redis:7-alpine
#
# OBS_IMAGE_PROFILE=release builds the services in release mode (default: debug, which the
# test build compiles anyway).
set -euo pipefail
cd "$(dirname "$0")/../.."

profile="${OBS_IMAGE_PROFILE:-debug}"
work="$(pwd)/target/images"
mkdir -p "$work"
# One build at a time: a second run would empty the folders this one is importing from.
exec 9>"$work/.lock"
flock 9

log() { printf '  %s\n' "$*"; }

# copy_with_libs BINARY DEST_PATH ROOT: the binary at DEST_PATH inside ROOT, plus its libraries.
copy_with_libs() {
  local binary="$1" dest="$2" root="$3"
  install -D -m 0755 "$binary" "$root$dest"
  ldd "$binary" | grep -oE '/[^ ]+' | sort -u | while read -r lib; do
    install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
  done
}

# json_string TEXT: TEXT as a JSON string.
json_string() {
  local s="${1//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '"%s"' "$s"
}

# import [--change INSTRUCTION]... ROOT NAME ENTRYPOINT [ARG...]: docker import of ROOT,
# with ENTRYPOINT [ARG...] as the image's entrypoint and any further Dockerfile
# instructions, unless an image with the same content exists. The content is the files,
# every path's mode, owner and link target, and the instructions.
import() {
  local changes=()
  while [ "${1:-}" = --change ]; do
    changes+=(--change "$2")
    shift 2
  done
  local root="$1" name="$2"
  shift 2
  local entrypoint="" arg
  for arg in "$@"; do
    entrypoint+="${entrypoint:+, }$(json_string "$arg")"
  done
  changes+=(--change "ENTRYPOINT [$entrypoint]")
  mkdir -p "$root/tmp" && chmod 1777 "$root/tmp"
  local hash
  hash="$(
    cd "$root"
    {
      find . -type f -print0 | sort -z | xargs -0 sha256sum
      find . -printf '%p %m %U:%G %l\n' | sort
      printf '%s\n' "${changes[@]}"
    } | sha256sum | cut -c1-16
  )"
  if [ "$(docker image inspect -f '{{index .Config.Labels "obs.content"}}' "$name" 2>/dev/null || true)" = "$hash" ]; then
    log "$name is current ($hash)"
    return
  fi
  tar -C "$root" -c . | docker import \
    "${changes[@]}" \
    --change "LABEL obs.content=$hash" \
    - "$name" >/dev/null
  log "built $name ($hash)"
}

# package  binary  image: one line per service image.
SERVICES="
obs-demo obs-demo obs-demo:latest
ws-service ws-service ws-service:latest
ws-app ws-app ws-app:latest
websocket-message-counter websocket-message-counter websocket-message-counter:latest
personaworlds personaworlds personaworlds:latest
analytics-backend analytics-backend analytics-backend:latest
integration-tests sink obs-sink:local
"

build_args=(--quiet)
if [ "$profile" = release ]; then build_args+=(--release); fi
while read -r package binary _; do
  [ -n "$package" ] || continue
  build_args+=(-p "$package" --bin "$binary")
done <<<"$SERVICES"
cargo build "${build_args[@]}"

while read -r package binary image; do
  [ -n "$package" ] || continue
  root="$work/$binary"
  rm -rf "$root" && mkdir -p "$root"
  copy_with_libs "target/$profile/$binary" "/usr/local/bin/$binary" "$root"
  strip --strip-debug "$root/usr/local/bin/$binary"
  import "$root" "$image" "/usr/local/bin/$binary"
done <<<"$SERVICES"

root="$work/prometheus"
rm -rf "$root" && mkdir -p "$root/prometheus" "$root/etc/prometheus"
chmod 0777 "$root/prometheus"
copy_with_libs "$(command -v prometheus)" /bin/prometheus "$root"
# Debian's build serves its web UI from disk.
mkdir -p "$root/usr/share/prometheus" && cp -r /usr/share/prometheus/web "$root/usr/share/prometheus/"
import "$root" obs-prometheus:local /bin/prometheus

sid="${OBS_SID_ROOT:-$(pwd)/target/tools/sid/root}"
if [ ! -x "$sid/usr/bin/prometheus" ] || [ ! -x "$sid/usr/bin/prometheus-alertmanager" ]; then
  echo "no Prometheus 3 / Alertmanager from Debian sid under $sid: run scripts/test.sh, which fetches them" >&2
  exit 1
fi
root="$work/prometheus3"
rm -rf "$root" && mkdir -p "$root/prometheus" "$root/etc/prometheus"
chmod 0777 "$root/prometheus"
copy_with_libs "$sid/usr/bin/prometheus" /bin/prometheus "$root"
mkdir -p "$root/usr/share/prometheus" && cp -r "$sid/usr/share/prometheus/web" "$root/usr/share/prometheus/"
import "$root" obs-prometheus3:local /bin/prometheus

root="$work/alertmanager"
rm -rf "$root" && mkdir -p "$root/alertmanager" "$root/etc/alertmanager"
chmod 0777 "$root/alertmanager"
copy_with_libs "$sid/usr/bin/prometheus-alertmanager" /bin/alertmanager "$root"
# Debian's build reads its notification templates (default.tmpl) and UI from disk.
mkdir -p "$root/usr/share/prometheus" && cp -r "$sid/usr/share/prometheus/alertmanager" "$root/usr/share/prometheus/"
import "$root" obs-alertmanager:local /bin/alertmanager

root="$work/pushgateway"
rm -rf "$root" && mkdir -p "$root"
copy_with_libs "$(command -v prometheus-pushgateway)" /bin/pushgateway "$root"
if [ -d /usr/share/prometheus/pushgateway ]; then
  mkdir -p "$root/usr/share/prometheus" && cp -r /usr/share/prometheus/pushgateway "$root/usr/share/prometheus/"
fi
import "$root" obs-pushgateway:local /bin/pushgateway

# Debian's VictoriaMetrics binaries, standing in for the victoriametrics/* images of the
# scale-out stack (stack.storage.victoriametrics). Each writes its data under a directory
# the compose file mounts a volume on.
for vm in victoria-metrics:/storage vmagent:/vmagent-data vmalert:; do
  binary="${vm%%:*}" data="${vm#*:}"
  root="$work/$binary"
  rm -rf "$root" && mkdir -p "$root"
  copy_with_libs "$(command -v "$binary")" "/bin/$binary" "$root"
  if [ -n "$data" ]; then mkdir -p "$root$data" && chmod 0777 "$root$data"; fi
  import "$root" "obs-$binary:local" "/bin/$binary"
done

# Debian's PostgreSQL, standing in for `postgres:16-alpine`: the server, initdb, pg_isready
# (also on PATH in /usr/bin, for `healthcheck: [CMD, pg_isready, -U, <user>]`) and psql, the
# server's modules (without LLVM JIT, which would pull in libLLVM: the server then runs
# without JIT), its share directory, tzdata, dash as /bin/sh for the entrypoint
# (postgres-entrypoint.sh: the official image's initialisation from POSTGRES_* variables)
# and a `postgres` user that runs everything (PostgreSQL refuses to run as root) and owns the
# data directory, so a fresh named volume mounted there starts out owned by it too.
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
  log "installing Debian's postgresql"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
pg_major="$(basename "$(dirname "$(dirname "$(printf '%s\n' /usr/lib/postgresql/*/bin/postgres | sort -V | tail -n 1)")")")"
pg_bin="/usr/lib/postgresql/$pg_major/bin"
pg_uid="$(id -u postgres 2>/dev/null || echo 999)"
pg_gid="$(id -g postgres 2>/dev/null || echo 999)"
root="$work/postgres"
rm -rf "$root" && mkdir -p "$root"
for binary in postgres initdb pg_isready psql; do
  copy_with_libs "$pg_bin/$binary" "$pg_bin/$binary" "$root"
done
mkdir -p "$root/usr/bin" && ln -s "$pg_bin/pg_isready" "$root/usr/bin/pg_isready"
modules=()
for module in "/usr/lib/postgresql/$pg_major/lib/"*.so; do
  case "$module" in */llvmjit*) continue ;; esac
  modules+=("$module")
  install -D -m 0755 "$module" "$root$module"
done
# The libraries the modules link (uuid-ossp, xml2, ...), as copy_with_libs does for one
# binary; some modules link none.
ldd "${modules[@]}" | grep -oE '=> /[^ ]+' | cut -c4- | sort -u | while read -r lib; do
  install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
done
mkdir -p "$root/usr/share/postgresql"
cp -rL "/usr/share/postgresql/$pg_major" "$root/usr/share/postgresql/"
rm -rf "$root/usr/share/postgresql/$pg_major/man"
cp -a /usr/share/zoneinfo "$root/usr/share/"
copy_with_libs "$(command -v dash)" /bin/sh "$root"
install -D -m 0755 integration-tests/images/postgres-entrypoint.sh "$root/usr/local/bin/docker-entrypoint.sh"
mkdir -p "$root/etc"
printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:%s:%s:PostgreSQL:/var/lib/postgresql:/bin/sh\n' \
  "$pg_uid" "$pg_gid" >"$root/etc/passwd"
printf 'root:x:0:\npostgres:x:%s:\n' "$pg_gid" >"$root/etc/group"
install -d -m 0755 -o "$pg_uid" -g "$pg_gid" "$root/var/lib/postgresql"
install -d -m 0700 -o "$pg_uid" -g "$pg_gid" "$root/var/lib/postgresql/data"
install -d -m 3777 -o "$pg_uid" -g "$pg_gid" "$root/var/run/postgresql"
import \
  --change "USER postgres" \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$pg_bin" \
  --change "ENV PGDATA=/var/lib/postgresql/data" \
  --change 'CMD ["postgres"]' \
  --change "EXPOSE 5432" \
  "$root" obs-postgres:local /usr/local/bin/docker-entrypoint.sh

# Debian's redis-server, standing in for `redis:7-alpine`, with the official image's
# behaviour: listening on every interface without protected mode. No persistence (the
# tests need none), working directory /data. redis-cli for `healthcheck: [CMD, redis-cli, ping]`.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  log "installing Debian's redis-server"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
fi
root="$work/redis"
rm -rf "$root" && mkdir -p "$root"
copy_with_libs "$(command -v redis-server)" /usr/local/bin/redis-server "$root"
copy_with_libs "$(command -v redis-cli)" /usr/local/bin/redis-cli "$root"
install -d -m 0777 "$root/data"
import --change "WORKDIR /data" --change "EXPOSE 6379" "$root" obs-redis:local \
  /usr/local/bin/redis-server --bind '*' '-::*' --protected-mode no --save '' --appendonly no --dir /data
