#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is missing (Docker
# engine, docker-compose, Prometheus and Alertmanager with promtool/amtool, VictoriaMetrics
# with vmagent and vmalert, wrk, redis-server for the redis dependency check's test,
# postgresql for the postgres check's test, python3 and its venv module, chromium for the
# dashboard preview's browser test) and
# kubernetes-validate from PyPI, starts dockerd when none runs, builds the local images,
# then runs formatting, lint and every test.
# CI runs exactly this (.ci/run). Safe to run again: each step skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
# The connection tests hold over a thousand sockets open at once (runtime/tests/connections.rs):
# take the hard open-file limit as the soft one where the machine's default is lower.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

log() { printf '\n== %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

install_debian_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
  command -v prometheus-pushgateway >/dev/null 2>&1 || missing+=(prometheus-pushgateway)
  command -v vmalert >/dev/null 2>&1 || missing+=(victoria-metrics)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  # Debian's python3 makes virtualenvs only with python3-venv (ensurepip).
  python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  # Headless, for the dashboard preview's browser test (integration-tests/src/browser.rs).
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  # Debian keeps the server binaries off PATH, under /usr/lib/postgresql/<major>/bin.
  compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
  if [ "${#missing[@]}" -eq 0 ]; then
    log "Debian packages present"
    return
  fi
  log "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_docker() {
  if docker info >/dev/null 2>&1; then
    log "docker engine running"
    return
  fi
  log "starting dockerd"
  as_root sh -c 'nohup dockerd >/var/log/obs-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return
    sleep 1
  done
  echo "dockerd did not come up within 60s; its log:" >&2
  as_root tail -n 50 /var/log/obs-dockerd.log >&2 || true
  exit 1
}

# kubernetes-validate (PyPI), for the strict check of the generated Kubernetes manifests
# (generator/tests/kubernetes.rs), in its own virtualenv under target/ so the machine's
# Python stays untouched.
KUBERNETES_VALIDATE_VERSION=1.37.0
install_kubernetes_validate() {
  local venv="$PWD/target/tools/kubernetes-validate"
  if [ "$("$venv/bin/kubernetes-validate" --version 2>/dev/null || true)" != "$KUBERNETES_VALIDATE_VERSION" ]; then
    log "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into target/tools"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  fi
  export OBS_KUBERNETES_VALIDATE="$venv/bin/kubernetes-validate"
}

install_debian_packages
install_kubernetes_validate
start_docker

# A one-off build gains nothing from incremental caches, which double target/'s size.
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0
fi

if [ -x integration-tests/images/build.sh ]; then
  log "building local images"
  integration-tests/images/build.sh
fi

log "cargo fmt --check"
cargo fmt --all --check

log "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

log "cargo test"
cargo test --workspace --no-fail-fast
