#!/usr/bin/env bash
# Makes sure a Docker engine answers on this machine for the Docker suites: installs Debian's
# docker.io (and debootstrap, for the test image's base) when dockerd is missing, starts dockerd as
# root when nothing answers, waits for its socket, and leaves it running. Exits non-zero with the
# reason when it cannot (not root, no engine to install).
set -euo pipefail

if docker info >/dev/null 2>&1; then
  echo "docker engine: already running"
  exit 0
fi
if [ -n "${DOCKER_HOST:-}" ]; then
  echo "DOCKER_HOST=$DOCKER_HOST does not answer: start that engine, or unset DOCKER_HOST" >&2
  exit 1
fi
[ "$(id -u)" = 0 ] || { echo "no Docker engine answers and starting one needs root" >&2; exit 1; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing from Debian: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

log=/var/log/aetherlens-dockerd.log
echo "starting dockerd (log: $log)"
# setsid: the engine outlives this script and the test run that started it.
setsid dockerd >"$log" 2>&1 < /dev/null &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "docker engine: running"
    exit 0
  fi
  sleep 1
done
echo "dockerd did not answer within 60 s; the end of $log:" >&2
tail -n 20 "$log" >&2
exit 1
