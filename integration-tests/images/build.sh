#!/usr/bin/env bash
# Builds the local images the end-to-end tests run, without any registry: each image is a
# folder holding one binary and the shared libraries `ldd` lists, imported with
# `docker import`. Images are rebuilt only when their contents change (the folder's hash
# is stored as a label).
#
#   obs-demo:latest          the demo service (target/<profile>/obs-demo)
#   <example>:latest         each example service, under the image name and binary path its
#                            generated docker-compose.yml uses (the SERVICES table below)
#   obs-sink:local           stands in for Alertmanager receivers and Loki in e2e stacks
#   obs-prometheus:local     Debian's /usr/bin/prometheus
#   obs-alertmanager:local   Debian's /usr/bin/prometheus-alertmanager
#
# OBS_IMAGE_PROFILE=release builds the services in release mode (default: debug, which the
# test build compiles anyway).
set -euo pipefail
cd "$(dirname "$0")/../.."

profile="${OBS_IMAGE_PROFILE:-debug}"
work="$(pwd)/target/images"
mkdir -p "$work"

log() { printf '  %s\n' "$*"; }

# copy_with_libs BINARY DEST_PATH ROOT: the binary at DEST_PATH inside ROOT, plus its libraries.
copy_with_libs() {
  local binary="$1" dest="$2" root="$3"
  install -D -m 0755 "$binary" "$root$dest"
  ldd "$binary" | grep -oE '/[^ ]+' | sort -u | while read -r lib; do
    install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
  done
}

# import ROOT NAME ENTRYPOINT: docker import of ROOT unless an image with the same content exists.
import() {
  local root="$1" name="$2" entrypoint="$3"
  mkdir -p "$root/tmp" && chmod 1777 "$root/tmp"
  local hash
  hash="$(cd "$root" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
  if [ "$(docker image inspect -f '{{index .Config.Labels "obs.content"}}' "$name" 2>/dev/null || true)" = "$hash" ]; then
    log "$name is current ($hash)"
    return
  fi
  tar -C "$root" -c . | docker import \
    --change "ENTRYPOINT [\"$entrypoint\"]" \
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

root="$work/alertmanager"
rm -rf "$root" && mkdir -p "$root/alertmanager" "$root/etc/alertmanager"
chmod 0777 "$root/alertmanager"
copy_with_libs "$(command -v prometheus-alertmanager)" /bin/alertmanager "$root"
# Debian's build reads its notification templates (default.tmpl) and UI from disk.
mkdir -p "$root/usr/share/prometheus" && cp -r /usr/share/prometheus/alertmanager "$root/usr/share/prometheus/"
import "$root" obs-alertmanager:local /bin/alertmanager
