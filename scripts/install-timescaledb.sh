#!/usr/bin/env bash
# Installs the native test prerequisites: PostgreSQL 15 from Debian and TimescaleDB 2.22.1,
# community edition (what timescale/timescaledb:2.22.1-pg15 ships), built for PG15 from an
# unmodified source tarball:
#   TIMESCALEDB_SOURCE=path/to/timescaledb-2.22.1.tar.gz   when set (CI: ../shared/vendor/)
#   otherwise the 2.22.1 tag from GitHub, when this machine can reach it.
# Idempotent: seconds when 2.22.1 with its TSL (community) library is already installed; another
# installed version is replaced. It says what it did.
set -euo pipefail

PG_MAJOR=15
TS_VERSION=${TIMESCALEDB_VERSION:-2.22.1}
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_LIBDIR=/usr/lib/postgresql/$PG_MAJOR/lib
EXT_DIR=/usr/share/postgresql/$PG_MAJOR/extension

installed() {
  [ -x "$PG_BIN/postgres" ] && [ -f "$PG_LIBDIR/timescaledb.so" ] \
    && [ -f "$PG_LIBDIR/timescaledb-$TS_VERSION.so" ] && [ -f "$PG_LIBDIR/timescaledb-tsl-$TS_VERSION.so" ] \
    && [ -f "$EXT_DIR/timescaledb--$TS_VERSION.sql" ] \
    && grep -q "default_version = '$TS_VERSION'" "$EXT_DIR/timescaledb.control"
}

if installed; then
  echo "timescaledb $TS_VERSION (community edition) for PostgreSQL $PG_MAJOR: already installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

need=()
for pkg in postgresql-$PG_MAJOR postgresql-client-$PG_MAJOR postgresql-server-dev-$PG_MAJOR cmake make gcc libc6-dev libssl-dev libkrb5-dev ca-certificates; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing from Debian: ${need[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "${TIMESCALEDB_SOURCE:-}" ]; then
  [ -f "$TIMESCALEDB_SOURCE" ] || { echo "TIMESCALEDB_SOURCE=$TIMESCALEDB_SOURCE: no such file" >&2; exit 1; }
  echo "building timescaledb $TS_VERSION from $TIMESCALEDB_SOURCE"
  tar -xzf "$TIMESCALEDB_SOURCE" -C "$work"
else
  url="https://github.com/timescale/timescaledb/archive/refs/tags/$TS_VERSION.tar.gz"
  echo "building timescaledb $TS_VERSION from $url"
  if ! curl -fsSL --max-time 300 "$url" -o "$work/src.tar.gz"; then
    echo "cannot download $url: set TIMESCALEDB_SOURCE to a timescaledb-$TS_VERSION source tarball" >&2
    exit 1
  fi
  tar -xzf "$work/src.tar.gz" -C "$work"
fi
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'timescaledb-*' | head -n 1)
[ -n "$src" ] && [ -d "$src/tsl" ] || { echo "the source has no tsl/ folder: it is not the community edition" >&2; exit 1; }

# A different installed version is replaced: its libraries and scripts go first, so the control
# file, the loader and every versioned library come from this build alone.
if ls "$PG_LIBDIR"/timescaledb*.so >/dev/null 2>&1; then
  echo "removing the timescaledb installed before: $(ls "$PG_LIBDIR"/timescaledb-[0-9]*.so 2>/dev/null | sed 's/.*timescaledb-//;s/\.so$//' | tr '\n' ' ')"
  $SUDO rm -f "$PG_LIBDIR"/timescaledb*.so "$EXT_DIR"/timescaledb*.sql "$EXT_DIR"/timescaledb.control
fi

cd "$src"
./bootstrap -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
  -DPG_CONFIG="$PG_BIN/pg_config" >"$work/bootstrap.log" 2>&1 || { tail -n 30 "$work/bootstrap.log" >&2; exit 1; }
make -C build -j "$(nproc)" >"$work/make.log" 2>&1 || { tail -n 30 "$work/make.log" >&2; exit 1; }
$SUDO make -C build install >/dev/null

installed || { echo "timescaledb $TS_VERSION did not install where PostgreSQL $PG_MAJOR looks for it" >&2; exit 1; }
echo "timescaledb $TS_VERSION (community edition) for PostgreSQL $PG_MAJOR: installed"
