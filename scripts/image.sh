#!/usr/bin/env bash
# Builds the container image from Containerfile with podman (or buildah): the release binary,
# the shared libraries `ldd` says it needs, and the CA bundle, on `scratch`.
#   ./scripts/image.sh [TAG]          default tag: consumption-exporter:<version>
# CONSUMPTION_EXPORTER_BINARY=path uses that binary instead of building the release one (the
# tests pass their debug build). Needs podman or buildah (Debian: apt-get install podman).
# Prints the tag.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
tag=${1:-consumption-exporter:$version}

binary=${CONSUMPTION_EXPORTER_BINARY:-}
if [ -z "$binary" ]; then
  cargo build --release --locked --bin consumption_exporter
  binary=target/release/consumption_exporter
fi
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$binary" "$context/consumption_exporter"
cp exporter.yml Containerfile "$context/"
mkdir -p "$context/rootfs/etc/ssl/certs" "$context/rootfs/tmp"
# The dynamic loader and every library, at the paths the binary looks for them.
for library in $(ldd "$binary" | grep -o '/[^ ]*'); do
  mkdir -p "$context/rootfs$(dirname "$library")"
  cp -L "$library" "$context/rootfs$library"
done
bundle=/etc/ssl/certs/ca-certificates.crt
[ -f "$bundle" ] || { echo "$bundle is missing: apt-get install ca-certificates" >&2; exit 1; }
cp "$bundle" "$context/rootfs/etc/ssl/certs/"
chmod 1777 "$context/rootfs/tmp"

if command -v podman >/dev/null; then
  builder=(podman build --runtime runc)
elif command -v buildah >/dev/null; then
  builder=(buildah bud)
else
  echo "podman or buildah is needed: apt-get install podman" >&2
  exit 1
fi
"${builder[@]}" --tag "$tag" --file "$context/Containerfile" "$context" >&2
echo "$tag"
