#!/usr/bin/env bash
# Builds the test image that stands in for timescale/timescaledb:<TS>-pg<PG> (no registry is
# reachable here), offline: a Debian root file system from debootstrap, imported as the base, then
# test/support/image/Dockerfile over the vendored upstream entrypoint, init scripts and TimescaleDB
# source. Cached: the tag carries a content hash of everything that goes into the image, so an
# unchanged recipe is not built again.
#
#   scripts/build-test-image.sh [PG_MAJOR] [TS_VERSIONS...]     default: 15 2.22.1
# Prints the image reference as its last line. Needs a running Docker engine (scripts/start-docker.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

PG_MAJOR=${1:-15}
shift || true
TS_VERSIONS=${*:-2.22.1}
VENDOR=${AETHERLENS_VENDOR_DIR:-$(cd .. && pwd)/shared/vendor}
case "$PG_MAJOR" in
  15) SUITE=bookworm ;;
  17) SUITE=trixie ;;
  *) echo "no recipe for PostgreSQL $PG_MAJOR (15 or 17)" >&2; exit 2 ;;
esac
UPSTREAM="$VENDOR/docker-library-postgres/$PG_MAJOR-$SUITE"
[ -d "$UPSTREAM" ] || { echo "missing $UPSTREAM: set AETHERLENS_VENDOR_DIR to the vendored sources" >&2; exit 1; }

context=$(mktemp -d)
rootfs=""
trap 'rm -rf "$context" ${rootfs:+"$rootfs"}' EXIT
cp test/support/image/Dockerfile "$context/"
cp "$UPSTREAM/docker-entrypoint.sh" "$UPSTREAM/docker-ensure-initdb.sh" "$context/"
cp -r "$VENDOR/timescaledb-docker/docker-entrypoint-initdb.d" "$context/"
for v in $TS_VERSIONS; do cp "$VENDOR/timescaledb-$v.tar.gz" "$context/"; done
chmod -R u+w "$context"

base="aetherlens-test/debian:$SUITE-minbase"
hash=$( (cd "$context" && find . -type f -print0 | sort -z | xargs -0 sha256sum; echo "$PG_MAJOR $SUITE $TS_VERSIONS") | sha256sum | cut -c1-12)
tag="aetherlens-test/timescaledb:${TS_VERSIONS##* }-pg$PG_MAJOR-$hash"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "test image $tag: already built" >&2
  echo "$tag"; exit 0
fi

if ! docker image inspect "$base" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  echo "making the base image $base (debootstrap --variant=minbase $SUITE)" >&2
  rootfs=$(mktemp -d)
  debootstrap --variant=minbase "$SUITE" "$rootfs" http://deb.debian.org/debian >"$context.debootstrap.log" 2>&1 \
    || { tail -n 20 "$context.debootstrap.log" >&2; exit 1; }
  rm -f "$context.debootstrap.log"
  cat > "$rootfs/etc/apt/sources.list" <<LIST
deb http://deb.debian.org/debian $SUITE main
deb http://deb.debian.org/debian $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
LIST
  # As the official debian:*-slim images: no recommends, no apt caches in layers.
  echo 'APT::Install-Recommends "false";' > "$rootfs/etc/apt/apt.conf.d/01norecommends"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
fi

echo "building test image $tag (PostgreSQL $PG_MAJOR from Debian $SUITE, TimescaleDB $TS_VERSIONS)" >&2
start=$(date +%s)
DOCKER_BUILDKIT=0 docker build --build-arg "BASE_IMAGE=$base" --build-arg "PG_MAJOR=$PG_MAJOR" \
  --build-arg "TS_VERSIONS=$TS_VERSIONS" --label "aetherlens.recipe=$hash" -t "$tag" "$context" >"$context.build.log" 2>&1 \
  || { tail -n 40 "$context.build.log" >&2; rm -f "$context.build.log"; exit 1; }
rm -f "$context.build.log"
echo "built $tag in $(( $(date +%s) - start )) s" >&2
echo "$tag"
