#!/usr/bin/env bash
# Builds the offline bundle: one tar.gz with the app as committed at HEAD, its production node_modules (native modules as installed
# here, so build it on the same OS, CPU architecture and Node.js major as the line PC), the demo pack and
# deploy/install.sh. Installing it needs Node.js and nothing from the network.
#
#   deploy/bundle.sh [--out DIR] [--cuda-libs LIBS]   # default DIR: ./dist; prints the bundle's path on its last line
#
# On a GPU build host run `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` first: the CUDA provider libraries that
# onnxruntime-node's install step put into node_modules travel in the bundle. Or --cuda-libs LIBS: a folder with
# those libraries, fetched on another machine (deploy/cuda-libs.sh says how); they are checked, listed with size and
# sha256 in bundle.json, and install.sh verifies them and puts them into onnxruntime-node's bin folder.
set -euo pipefail

die() { echo "bundle.sh: $*" >&2; exit 1; }

out=dist
cuda_libs=''
while (($#)); do
  case "$1" in
    --out) [[ $# -ge 2 ]] || die "--out needs a folder"; out=$2; shift 2 ;;
    --cuda-libs) [[ $# -ge 2 ]] || die "--cuda-libs needs a folder"; cuda_libs=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1'; usage: deploy/bundle.sh [--out DIR] [--cuda-libs LIBS]" ;;
  esac
done

# Before anything is written: a wrong library set is one line from deploy/cuda-libs.sh and no bundle.
if [[ -n $cuda_libs ]]; then
  cuda_list=$("$(dirname "$0")/cuda-libs.sh" check "$cuda_libs" 2>&1) || die "${cuda_list#cuda-libs.sh: }; no bundle was written"
  cuda_libs=$(cd "$cuda_libs" && pwd)
fi

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[[ -d node_modules ]] || die "no node_modules in $root; run 'npm ci' first (ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci on a GPU build host)"
command -v node >/dev/null || die "node is not on PATH; install Node.js 20"

version=$(node -p 'require("./package.json").version')
platform=$(node -p 'process.platform + "-" + process.arch')
node_major=$(node -p 'process.versions.node.split(".")[0]')
node_abi=$(node -p 'process.versions.modules')
name="adaptclip-edge-${version}-${platform}-node${node_major}"
[[ -z $cuda_libs || $platform == linux-x64 ]] || die "--cuda-libs: onnxruntime-node has CUDA provider libraries for linux-x64 only, this is $platform"

demo_pack=models/packs/demo-tiny
[[ -f $demo_pack/manifest.json ]] || die "the demo pack $demo_pack is missing; build it first (see models/export) or restore it from git"

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d "$out/.bundle-XXXXXX")
trap 'rm -rf "$stage"' EXIT
app="$stage/$name/app"
mkdir -p "$app"

# The app: exactly what HEAD commits (a clean, reproducible snapshot; uncommitted edits stay out), without tests, tools
# and CI; outside a git checkout, the source folders as they are. Plus the demo pack.
if git rev-parse --verify -q HEAD >/dev/null 2>&1; then
  git archive --format=tar HEAD -- . ':(exclude)test' ':(exclude)tools' ':(exclude).ci' | tar -xf - -C "$app"
else
  tar -cf - agent adapters drivers models deploy package.json package-lock.json tsconfig.json README.md | tar -xf - -C "$app"
fi
[[ -f $app/$demo_pack/manifest.json ]] || tar -cf - "$demo_pack" | tar -xf - -C "$app"

# Production dependencies only (no typescript, ava, playwright), as npm itself resolves them.
npm ls --omit=dev --all --parseable 2>/dev/null | sed "s#^$root/##" | grep '^node_modules/' |
  awk -F/ '{ if ($2 ~ /^@/) print $1 "/" $2 "/" $3; else print $1 "/" $2 }' | sort -u > "$stage/deps.txt"
[[ -s $stage/deps.txt ]] || die "npm ls found no production dependencies; run 'npm ci' first"
grep -qx node_modules/better-sqlite3 "$stage/deps.txt" || die "node_modules is incomplete (no better-sqlite3); run 'npm ci' first"
# Only this platform's native parts: other platforms' ONNX Runtime builds and native build intermediates stay behind.
other_linux=$( [[ $(uname -m) == x86_64 ]] && echo arm64 || echo x64)
# With --cuda-libs those are the provider libraries; copies in node_modules would only double the bundle.
provider_excludes=()
[[ -z $cuda_libs ]] || provider_excludes=(--exclude='node_modules/onnxruntime-node/bin/napi-v*/linux/*/libonnxruntime_providers_*.so')
tar -cf - "${provider_excludes[@]}" \
  --exclude='node_modules/onnxruntime-node/bin/napi-v*/darwin' --exclude='node_modules/onnxruntime-node/bin/napi-v*/win32' \
  --exclude="node_modules/onnxruntime-node/bin/napi-v*/linux/$other_linux" \
  --exclude='node_modules/better-sqlite3/deps' --exclude='node_modules/better-sqlite3/src' \
  --exclude='node_modules/better-sqlite3/build/Release/obj*' --exclude='node_modules/better-sqlite3/build/Release/*.a' \
  --exclude='node_modules/better-sqlite3/build/Release/test_extension.node' \
  -T "$stage/deps.txt" |
  tar -xf - -C "$app"

cp "$app/deploy/install.sh" "$stage/$name/install.sh"
chmod 755 "$stage/$name/install.sh"
cuda_json=''
if [[ -n $cuda_libs ]]; then
  mkdir "$stage/$name/cuda-libs"
  cuda_json=$',\n  "cudaLibs": ['
  sep=''
  while IFS=$'\t' read -r lib size sum; do
    cp "$cuda_libs/$lib" "$stage/$name/cuda-libs/$lib"
    cuda_json+="$sep"$'\n'"    { \"name\": \"$lib\", \"size\": $size, \"sha256\": \"$sum\" }"
    sep=','
  done <<< "$cuda_list"
  cuda_json+=$'\n  ]'
fi
cat > "$stage/$name/bundle.json" <<EOF
{
  "name": "adaptclip-edge",
  "version": "$version",
  "platform": "$platform",
  "nodeMajor": $node_major,
  "nodeAbi": $node_abi,
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)",
  "onnxruntimeCuda": $( [[ -n $cuda_libs ]] || compgen -G "$app/node_modules/onnxruntime-node/bin/napi-v*/linux/*/libonnxruntime_providers_cuda.so" >/dev/null && echo true || echo false)$cuda_json
}
EOF

tarball="$out/$name.tar.gz"
tar -C "$stage" -cf - "$name" | gzip -1 > "$tarball.partial"
mv "$tarball.partial" "$tarball"
echo "bundle.sh: $(du -h "$tarball" | cut -f1) bundle for $platform, Node.js $node_major (ABI $node_abi)" >&2
echo "$tarball"
