#!/usr/bin/env bash
# Installs an offline bundle built by deploy/bundle.sh. Needs Node.js (same major as the bundle) and nothing from
# the network. Run it from the unpacked bundle:
#
#   ./install.sh [--prefix DIR]      # app into DIR/releases/<version>, DIR/current -> it, DIR/bin/adaptclip-edge
#   ./install.sh --system            # also: service user, /etc/adaptclip-edge/config.yaml (kept if present),
#                                    # systemd unit; then: systemctl enable --now adaptclip-edge
#
# Default prefix /opt/adaptclip-edge. An upgrade is the same command with the newer bundle; the release it replaces
# stays in DIR/releases for a rollback (see deploy/README.md). --unit-dir, --sysusers-dir, --config-dir and
# --no-activate (skip systemd-sysusers and systemctl) exist for packaging and tests. A bundle built with --cuda-libs
# carries onnxruntime-node's CUDA provider libraries in cuda-libs/; they are checked against bundle.json's sha256s
# before anything is written and go into the release's onnxruntime-node bin folder.
set -euo pipefail

die() { echo "install.sh: $*" >&2; exit 1; }

prefix=/opt/adaptclip-edge
system=0
activate=1
unit_dir=/etc/systemd/system
sysusers_dir=/etc/sysusers.d
config_dir=/etc/adaptclip-edge
while (($#)); do
  case "$1" in
    --prefix) [[ $# -ge 2 ]] || die "--prefix needs a folder"; prefix=$2; shift 2 ;;
    --system) system=1; shift ;;
    --no-activate) activate=0; shift ;;
    --unit-dir) [[ $# -ge 2 ]] || die "--unit-dir needs a folder"; unit_dir=$2; shift 2 ;;
    --sysusers-dir) [[ $# -ge 2 ]] || die "--sysusers-dir needs a folder"; sysusers_dir=$2; shift 2 ;;
    --config-dir) [[ $# -ge 2 ]] || die "--config-dir needs a folder"; config_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1'; see ./install.sh --help" ;;
  esac
done

bundle=$(cd "$(dirname "$0")" && pwd)
[[ -f $bundle/bundle.json && -d $bundle/app ]] || die "run me from an unpacked bundle (bundle.json and app/ beside install.sh); build one with deploy/bundle.sh"

node_bin=${NODE:-$(command -v node || true)}
[[ -n $node_bin && -x $node_bin ]] || die "Node.js is not installed (no 'node' on PATH); install Node.js 20 (e.g. apt-get install nodejs), or set NODE=/path/to/node"
field() { "$node_bin" -e 'const b = require(process.argv[1]); process.stdout.write(String(b[process.argv[2]]))' "$bundle/bundle.json" "$1"; }
version=$(field version)
want_platform=$(field platform)
want_major=$(field nodeMajor)
want_abi=$(field nodeAbi)
have_platform=$("$node_bin" -p 'process.platform + "-" + process.arch')
have_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
have_abi=$("$node_bin" -p 'process.versions.modules')
[[ $have_platform == "$want_platform" ]] || die "this bundle is for $want_platform, this machine is $have_platform; build the bundle on a $have_platform machine"
[[ $have_major == "$want_major" && $have_abi == "$want_abi" ]] || die "this bundle needs Node.js $want_major (ABI $want_abi), $node_bin is $("$node_bin" --version) (ABI $have_abi); install Node.js $want_major or build the bundle with this Node.js"

# CUDA provider libraries (bundle.sh --cuda-libs): verified against the sha256s in bundle.json before anything is written.
cuda_sums=''
cuda_script=$bundle/app/deploy/cuda-libs.sh
sums_text=$("$node_bin" -e 'for (const l of require(process.argv[1]).cudaLibs ?? []) console.log(`${l.sha256}  ${l.name}`)' "$bundle/bundle.json")
if [[ -n $sums_text ]]; then
  [[ -x $cuda_script ]] || die "bundle.json lists CUDA provider libraries but the bundle has no app/deploy/cuda-libs.sh; build the bundle again; nothing was changed"
  cuda_sums=$(mktemp)
  trap 'rm -f "$cuda_sums"' EXIT
  printf '%s\n' "$sums_text" > "$cuda_sums"
  msg=$("$cuda_script" check "$bundle/cuda-libs" --sums "$cuda_sums" 2>&1 >/dev/null) || die "${msg#cuda-libs.sh: }; nothing was changed"
fi

mkdir -p "$prefix/releases" "$prefix/bin"
prefix=$(cd "$prefix" && pwd)
release="$prefix/releases/$version"
staging="$release.installing"
rm -rf "$staging"
cp -a "$bundle/app" "$staging"
cp "$bundle/bundle.json" "$staging/bundle.json"
if [[ -n $cuda_sums ]]; then
  msg=$("$cuda_script" install "$bundle/cuda-libs" "$staging/node_modules/onnxruntime-node" --sums "$cuda_sums" 2>&1 >/dev/null) ||
    { rm -rf "$staging"; die "${msg#cuda-libs.sh: }; nothing was changed"; }
fi

# Prove the native modules load here before anything points at the new release.
( cd "$staging" && "$node_bin" -e '
  const Database = require("better-sqlite3"); new Database(":memory:").prepare("select 1").get();
  require("onnxruntime-node"); require("sharp");' ) ||
  { rm -rf "$staging"; die "the bundle's native modules do not load with $node_bin; nothing was changed"; }
"$node_bin" "$staging/agent/bin.js" --version >/dev/null ||
  { rm -rf "$staging"; die "the bundled CLI does not start with $node_bin; nothing was changed"; }

if [[ -e $release ]]; then mv "$release" "$release.replaced-$(date +%Y%m%dT%H%M%S)"; fi
mv "$staging" "$release"
ln -sfn "releases/$version" "$prefix/current.new"
mv -T "$prefix/current.new" "$prefix/current"

cat > "$prefix/bin/adaptclip-edge.new" <<EOF
#!/bin/sh
# adaptclip-edge launcher written by install.sh: the Node.js it was installed with, the current release.
exec "$node_bin" "$prefix/current/agent/bin.js" "\$@"
EOF
chmod 755 "$prefix/bin/adaptclip-edge.new"
mv "$prefix/bin/adaptclip-edge.new" "$prefix/bin/adaptclip-edge"
echo "install.sh: adaptclip-edge $version installed in $prefix (run $prefix/bin/adaptclip-edge)"
[[ -z $cuda_sums ]] || echo "install.sh: CUDA provider libraries (sha256 verified) in $(cd "$release" && echo node_modules/onnxruntime-node/bin/napi-v*/linux/x64)"

((system)) || exit 0

# --system: service user, config, unit. An existing config is never overwritten.
app="$prefix/current"
mkdir -p "$sysusers_dir" "$unit_dir" "$config_dir"
cp "$app/deploy/adaptclip-edge.sysusers" "$sysusers_dir/adaptclip-edge.conf"
sed "s#/opt/adaptclip-edge#$prefix#g" "$app/deploy/adaptclip-edge.service" > "$unit_dir/adaptclip-edge.service"
if [[ ! -e $config_dir/config.yaml ]]; then
  template="$app/deploy/line.yaml"
  [[ -f $template ]] || template="$app/deploy/demo.yaml"
  [[ -f $template ]] || die "the bundle has neither deploy/line.yaml nor deploy/demo.yaml; write $config_dir/config.yaml yourself and run me again"
  cp "$template" "$config_dir/config.yaml"
  echo "install.sh: wrote $config_dir/config.yaml from $(basename "$template"); edit it for this line"
else
  echo "install.sh: kept the existing $config_dir/config.yaml"
fi
if ((activate)); then
  systemd-sysusers "$sysusers_dir/adaptclip-edge.conf"
  chown -R root:adaptclip-edge "$config_dir"
  chmod 0750 "$config_dir"
  chmod 0640 "$config_dir/config.yaml"
  systemctl daemon-reload
  echo "install.sh: start it with: systemctl enable --now adaptclip-edge; follow it with: journalctl -u adaptclip-edge -f"
fi
