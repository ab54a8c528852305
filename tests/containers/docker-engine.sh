#!/usr/bin/env bash
# A Docker engine for `make test-containers` on a machine without systemd (CI: Debian 12, root).
#
#   tests/containers/docker-engine.sh start   install what is missing with apt-get (docker.io,
#                                             docker-compose, mmdebstrap), start containerd and
#                                             dockerd in the background, wait until `docker info` answers
#   tests/containers/docker-engine.sh stop    stop the engine that `start` started (nothing else)
#
# Exit 0: the engine answers; stdout says "Docker engine started ..." if this started it, and
# nothing if it was already running (then `stop` has nothing to stop). Exit 3: Docker cannot run
# here; stdout has one sentence saying why. Anything else is an error.
# Logs and pid files: $SHOP_DOCKER_STATE (default /tmp/shop-docker-engine).
set -uo pipefail

state=${SHOP_DOCKER_STATE:-/tmp/shop-docker-engine}
wait_secs=${SHOP_DOCKER_WAIT:-90}

cannot() { echo "Container tests skipped: Docker cannot run here ($*)."; exit 3; }

answers() {
    local cli
    for cli in /usr/bin/docker docker; do
        command -v "$cli" >/dev/null && "$cli" info >/dev/null 2>&1 && return 0
    done
    return 1
}

# Poll a condition until it holds or $wait_secs pass.
wait_until() {
    local deadline=$((SECONDS + wait_secs))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

start_daemon() {   # name, condition, command...
    local name=$1 ready=$2
    shift 2
    setsid "$@" >"$state/$name.log" 2>&1 < /dev/null &
    echo $! >"$state/$name.pid"
    if ! wait_until "$ready"; then
        local last
        last=$(tail -n 1 "$state/$name.log")
        stop    # what this started, nothing else
        cannot "$name did not come up within ${wait_secs} s: $last"
    fi
}

containerd_ready() { [[ -S /run/containerd/containerd.sock ]] && ctr version >/dev/null 2>&1; }

start() {
    answers && exit 0
    [[ $(id -u) == 0 ]] || cannot "no Docker engine answers, and only root can install and start one"
    command -v apt-get >/dev/null || cannot "no Docker engine answers, and there is no apt-get to install one"
    local need=()
    command -v dockerd >/dev/null || need+=(docker.io)
    command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
    command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
    if ((${#need[@]})); then
        apt-get update -qq >/dev/null 2>&1 || cannot "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >"$state/apt-get.log" 2>&1 \
            || cannot "apt-get install ${need[*]} failed: $(tail -n 1 "$state/apt-get.log")"
    fi
    answers && exit 0          # a package script may have started it
    rm -f "$state"/*.pid
    containerd_ready || start_daemon containerd containerd_ready containerd
    start_daemon dockerd answers dockerd --containerd=/run/containerd/containerd.sock
    echo "Docker engine started ($(dockerd --version)); logs in $state."
    exit 0
}

stop_one() {
    local pidfile=$state/$1.pid pid
    [[ -f $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        wait_until eval "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$pidfile"
}

stop() {
    stop_one dockerd
    stop_one containerd
}

mkdir -p "$state"
case ${1:-} in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
