#!/usr/bin/env bash
# Installs the test prerequisites: PostgreSQL 15 from Debian and TimescaleDB built from Debian's
# source package (Apache-2 edition; Debian strips the community code). Idempotent: when the
# extension is already installed for PG15 it exits in well under a second.
# The machine's apt sources are never changed: the deb-src index lives in a private state dir.
set -euo pipefail

PG_MAJOR=15
PG_LIBDIR=/usr/lib/postgresql/$PG_MAJOR/lib
EXT_DIR=/usr/share/postgresql/$PG_MAJOR/extension
STATE=${AETHERLENS_APT_STATE:-/var/tmp/aetherlens-apt}

if [ -f "$PG_LIBDIR/timescaledb.so" ] && ls "$EXT_DIR"/timescaledb--*.sql >/dev/null 2>&1 \
   && [ -x /usr/lib/postgresql/$PG_MAJOR/bin/postgres ]; then
  echo "timescaledb for PostgreSQL $PG_MAJOR: already installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

echo "installing PostgreSQL $PG_MAJOR and build tools from Debian"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  postgresql-$PG_MAJOR postgresql-client-$PG_MAJOR postgresql-server-dev-$PG_MAJOR \
  cmake make gcc libc6-dev libssl-dev libkrb5-dev dpkg-dev xz-utils ca-certificates >/dev/null

# A private source list: fetch the timescaledb source package without touching /etc/apt.
mkdir -p "$STATE/lists/partial" "$STATE/cache/archives/partial" "$STATE/src"
cat > "$STATE/sources.list" <<LIST
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
LIST
APT_OPTS=(-o "Dir::Etc::SourceList=$STATE/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
          -o "Dir::State::Lists=$STATE/lists" -o "Dir::Cache=$STATE/cache")
apt-get "${APT_OPTS[@]}" update -qq
cd "$STATE/src"
rm -rf timescaledb-*/
apt-get "${APT_OPTS[@]}" source --download-only -qq timescaledb
dpkg-source --no-check -x timescaledb_*.dsc >/dev/null
cd timescaledb-*/

# APACHE_ONLY: the Debian tarball has no tsl/ directory. Tests and telemetry are off: the build
# only needs the extension itself.
cmake -S . -B build -DAPACHE_ONLY=ON -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
  -DSEND_TELEMETRY_DEFAULT=OFF -DUSE_TELEMETRY=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
$SUDO cmake --install build >/dev/null
echo "timescaledb for PostgreSQL $PG_MAJOR: installed ($(ls "$EXT_DIR"/timescaledb--*.sql | sed -n 's/.*timescaledb--\([0-9.]*\)\.sql$/\1/p' | sort -V | tail -1))"
