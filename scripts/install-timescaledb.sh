#!/usr/bin/env bash
# Installs the native test prerequisites: PostgreSQL 15 from Debian and TimescaleDB, community
# edition, built for PG15 from unmodified source tarballs:
#   - TIMESCALEDB_VERSION (2.22.1, what timescale/timescaledb:2.22.1-pg15 ships): the control file's
#     default_version, so a plain `CREATE EXTENSION timescaledb` gets it;
#   - TIMESCALEDB_ALSO (2.28.3): installed beside it, as the upstream image keeps older versions,
#     reached with `CREATE EXTENSION timescaledb VERSION 'X'` or `ALTER EXTENSION ... UPDATE TO 'X'`.
# Sources, per version X:
#   TIMESCALEDB_SOURCE=path/to/timescaledb-<default>.tar.gz   the default version's tarball
#   TIMESCALEDB_SOURCE_DIR=folder with timescaledb-X.tar.gz   (defaults to TIMESCALEDB_SOURCE's folder;
#                                                               CI: ../shared/vendor/)
#   otherwise the X tag from GitHub, when this machine can reach it.
# Versions coexist: each is its own timescaledb-X.so, timescaledb-tsl-X.so and SQL scripts; the
# loader (timescaledb.so) comes from the newest, which loads every older versioned library.
# Idempotent: seconds when every version is installed with its TSL (community) library; only
# what is missing is built. It says what it did.
set -euo pipefail

PG_MAJOR=15
TS_VERSION=${TIMESCALEDB_VERSION:-2.22.1}
TS_ALSO=${TIMESCALEDB_ALSO-2.28.3}
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_LIBDIR=/usr/lib/postgresql/$PG_MAJOR/lib
EXT_DIR=/usr/share/postgresql/$PG_MAJOR/extension
SOURCE_DIR=${TIMESCALEDB_SOURCE_DIR:-${TIMESCALEDB_SOURCE:+$(dirname "$TIMESCALEDB_SOURCE")}}

version_installed() {
  [ -f "$PG_LIBDIR/timescaledb-$1.so" ] && [ -f "$PG_LIBDIR/timescaledb-tsl-$1.so" ] \
    && [ -f "$EXT_DIR/timescaledb--$1.sql" ]
}
is_default() { grep -q "default_version = '$TS_VERSION'" "$EXT_DIR/timescaledb.control" 2>/dev/null; }
# The newest of the installed versions and the ones asked for (sort -V orders 2.9 before 2.22).
newest() { printf '%s\n' "$@" | sort -V | tail -n 1; }

missing=()
for v in $TS_VERSION $TS_ALSO; do version_installed "$v" || missing+=("$v"); done
if [ -x "$PG_BIN/postgres" ] && [ -f "$PG_LIBDIR/timescaledb.so" ] && [ ${#missing[@]} -eq 0 ] && is_default; then
  echo "timescaledb $TS_VERSION (default)${TS_ALSO:+ and $TS_ALSO} (community edition) for PostgreSQL $PG_MAJOR: already installed"
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

# Puts a file in place with one rename: other clusters on this machine may be starting meanwhile,
# and must see the old file or the new one, never half of one.
put() { $SUDO install -m 0644 "$1" "$2.new.$$" && $SUDO mv -f "$2.new.$$" "$2"; }

# Builds version $1 and installs its versioned libraries and SQL scripts beside the others. The
# loader only when $1 is the newest version installed; the control file only for the default.
build_and_install() {
  local v=$1 tarball src stage
  tarball=""
  if [ "$v" = "$TS_VERSION" ] && [ -n "${TIMESCALEDB_SOURCE:-}" ]; then tarball=$TIMESCALEDB_SOURCE
  elif [ -n "$SOURCE_DIR" ] && [ -f "$SOURCE_DIR/timescaledb-$v.tar.gz" ]; then tarball=$SOURCE_DIR/timescaledb-$v.tar.gz
  fi
  mkdir -p "$work/$v"
  if [ -n "$tarball" ]; then
    [ -f "$tarball" ] || { echo "$tarball: no such file" >&2; exit 1; }
    echo "building timescaledb $v from $tarball"
    tar -xzf "$tarball" -C "$work/$v"
  else
    local url="https://github.com/timescale/timescaledb/archive/refs/tags/$v.tar.gz"
    echo "building timescaledb $v from $url"
    if ! curl -fsSL --max-time 300 "$url" -o "$work/$v/src.tar.gz"; then
      echo "cannot download $url: set TIMESCALEDB_SOURCE_DIR to a folder with timescaledb-$v.tar.gz" >&2
      exit 1
    fi
    tar -xzf "$work/$v/src.tar.gz" -C "$work/$v"
  fi
  src=$(find "$work/$v" -mindepth 1 -maxdepth 1 -type d -name 'timescaledb-*' | head -n 1)
  [ -n "$src" ] && [ -d "$src/tsl" ] || { echo "the $v source has no tsl/ folder: it is not the community edition" >&2; exit 1; }
  local started; started=$(date +%s)
  (cd "$src" && ./bootstrap -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
    -DPG_CONFIG="$PG_BIN/pg_config" >"$work/$v/bootstrap.log" 2>&1) || { tail -n 30 "$work/$v/bootstrap.log" >&2; exit 1; }
  make -C "$src/build" -j "$(nproc)" >"$work/$v/make.log" 2>&1 || { tail -n 30 "$work/$v/make.log" >&2; exit 1; }
  # Staged, not `make install`: that would overwrite the loader and the control file too.
  stage=$work/$v/stage
  make -C "$src/build" install DESTDIR="$stage" >/dev/null
  for f in "$stage$PG_LIBDIR"/timescaledb-*.so; do put "$f" "$PG_LIBDIR/$(basename "$f")"; done
  for f in "$stage$EXT_DIR"/timescaledb--*.sql; do put "$f" "$EXT_DIR/$(basename "$f")"; done
  local installed_versions
  installed_versions=$(ls "$PG_LIBDIR"/timescaledb-[0-9]*.so | sed 's/.*timescaledb-//;s/\.so$//')
  if [ ! -f "$PG_LIBDIR/timescaledb.so" ] || [ "$(newest $installed_versions)" = "$v" ]; then
    put "$stage$PG_LIBDIR/timescaledb.so" "$PG_LIBDIR/timescaledb.so"
  fi
  if [ "$v" = "$TS_VERSION" ]; then put "$stage$EXT_DIR/timescaledb.control" "$EXT_DIR/timescaledb.control"; fi
  echo "timescaledb $v built and installed in $(( $(date +%s) - started )) s"
}

for v in "${missing[@]}"; do build_and_install "$v"; done
# The default version was there but another build's control file names a different default.
if ! is_default; then
  $SUDO sed -i "s/^default_version = .*/default_version = '$TS_VERSION'/;s|^module_pathname = .*|module_pathname = '\$libdir/timescaledb-$TS_VERSION'|" "$EXT_DIR/timescaledb.control"
  echo "timescaledb $TS_VERSION made the default version"
fi

for v in $TS_VERSION $TS_ALSO; do
  version_installed "$v" || { echo "timescaledb $v did not install where PostgreSQL $PG_MAJOR looks for it" >&2; exit 1; }
done
is_default || { echo "the control file does not name $TS_VERSION as the default version" >&2; exit 1; }
echo "timescaledb $TS_VERSION (default)${TS_ALSO:+ and $TS_ALSO} (community edition) for PostgreSQL $PG_MAJOR: installed"
