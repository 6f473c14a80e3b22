#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what is missing (Docker
# engine, docker-compose, Prometheus and Alertmanager with promtool/amtool, VictoriaMetrics
# with vmagent and vmalert, wrk, redis-server for the redis dependency check's test,
# postgresql for the postgres check's test, python3 and its venv module, chromium for the
# dashboard preview's browser test) and
# kubernetes-validate from PyPI, Prometheus 3.5, promtool 3.5 and Alertmanager 0.33 from
# Debian sid (unpacked under target/tools/sid), starts dockerd when none runs, builds the local images,
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

# Prometheus and promtool 3.5 (the current LTS) and Alertmanager 0.33 from Debian sid,
# unpacked under target/tools/sid/root: every generated rule file and promtool test runs
# under both promtool majors (generator/tests/prometheus_tools.rs) and the end-to-end stacks
# run on Prometheus 3 (integration-tests/images/build.sh builds its image). apt works on a
# private state (its own sources list, lists and cache under target/tools/sid/apt), with the
# mirror this machine's own apt sources name, so the machine's apt setup stays untouched.
SID_PACKAGES=(prometheus promtool prometheus-alertmanager)
install_sid_tools() {
  local tools="$PWD/target/tools/sid"
  local root="$tools/root"
  export OBS_SID_ROOT="$root"
  if [ -x "$root/usr/bin/prometheus" ] && [ -x "$root/usr/bin/promtool" ] && [ -x "$root/usr/bin/amtool" ]; then
    log "Debian sid tools present ($("$root/usr/bin/prometheus" --version 2>&1 | head -n 1))"
    return
  fi
  local mirror
  mirror="$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr ' ' '\n' | grep -v -e security -e '^$' | head -n 1 || true)"
  if [ -z "$mirror" ]; then
    mirror="$(awk '$1 == "deb" && !/security/ { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|ftp):/) { print $i; exit } }' /etc/apt/sources.list 2>/dev/null || true)"
  fi
  if [ -z "$mirror" ]; then
    echo "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2
    exit 1
  fi
  log "fetching ${SID_PACKAGES[*]} from Debian sid ($mirror) into target/tools/sid"
  local apt="$tools/apt"
  rm -rf "$apt" "$root"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$root"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror sid main" >"$apt/sources.list"
  local options=(
    -o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=-
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
    -o APT::Sandbox::User=root -o Acquire::Languages=none
  )
  apt-get -qq "${options[@]}" update
  (cd "$apt" && apt-get -qq "${options[@]}" download "${SID_PACKAGES[@]}")
  local deb
  for deb in "$apt"/*.deb; do
    dpkg-deb -x "$deb" "$root"
  done
  rm -rf "$apt"
  "$root/usr/bin/prometheus" --version 2>&1 | head -n 1
}

install_debian_packages
install_kubernetes_validate
install_sid_tools
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
