#!/usr/bin/env bash
# onnxruntime-node's CUDA execution-provider libraries for machines without internet. One check, used by
# deploy/bundle.sh --cuda-libs, the bundle's install.sh and deploy/Containerfile.gpu:
#
#   deploy/cuda-libs.sh check DIR [--sums FILE]            # prints "name<TAB>size<TAB>sha256" per library
#   deploy/cuda-libs.sh install DIR ORT_DIR [--sums FILE]   # check, then copy into ORT_DIR/bin/napi-v*/linux/x64
#
# DIR must hold the three files onnxruntime-node 1.30's install step (ONNXRUNTIME_NODE_INSTALL=cuda12) downloads
# for linux/x64, each an ELF 64-bit x86-64 shared object; other files in DIR are ignored. FILE (sha256sum format;
# default DIR/SHA256SUMS when present) must then list each of them with its sha256. Collect them on a connected
# machine with: ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci && mkdir -p cuda-libs &&
#   cp node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_*.so cuda-libs/ &&
#   (cd cuda-libs && sha256sum *.so > SHA256SUMS)
set -euo pipefail

die() { echo "cuda-libs.sh: $*" >&2; exit 1; }

# The file names of onnxruntime-node 1.30's script/install-metadata.js, manifest "linux/x64:cuda12".
NAMES=(libonnxruntime_providers_cuda.so libonnxruntime_providers_shared.so libonnxruntime_providers_tensorrt.so)
COLLECT="collect them on a connected machine after 'ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci' from node_modules/onnxruntime-node/bin/napi-v6/linux/x64/ (deploy/README.md, section 6)"

(($# >= 2)) || die "usage: cuda-libs.sh check DIR [--sums FILE] | cuda-libs.sh install DIR ORT_DIR [--sums FILE]"
mode=$1 dir=$2 ort_dir=''
shift 2
if [[ $mode == install ]]; then
  (($# >= 1)) || die "install needs the onnxruntime-node folder after DIR"
  ort_dir=$1
  shift
elif [[ $mode != check ]]; then
  die "unknown mode '$mode'; use check or install"
fi
sums=''
while (($#)); do
  case "$1" in
    --sums) [[ $# -ge 2 ]] || die "--sums needs a file"; sums=$2; shift 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done

[[ -d $dir ]] || die "$dir is not a folder; $COLLECT"
[[ -n $sums || ! -f $dir/SHA256SUMS ]] || sums=$dir/SHA256SUMS
[[ -z $sums || -f $sums ]] || die "the checksum list $sums does not exist"

# ELF magic, 64-bit (EI_CLASS 2), little-endian (EI_DATA 1), e_type ET_DYN (3), e_machine x86-64 (0x3e).
elf_x64_so() { [[ $(od -An -tx1 -N20 -v -- "$1" | tr -d ' \n') =~ ^7f454c460201.{20}03003e00$ ]]; }

declare -A sha
for name in "${NAMES[@]}"; do
  file=$dir/$name
  [[ -e $file ]] || die "$file is missing (need ${NAMES[*]}); $COLLECT"
  [[ -f $file && ! -L $file ]] || die "$file is not a regular file; copy the library itself (cp -L) into $dir"
  elf_x64_so "$file" || die "$file is not an ELF 64-bit x86-64 shared object ($(file -b -- "$file" 2>/dev/null || echo 'wrong magic bytes')); replace it with the library from onnxruntime-node's bin folder; $COLLECT"
  sha[$name]=$(sha256sum -- "$file" | cut -d' ' -f1)
  if [[ -n $sums ]]; then
    want=$(awk -v n="$name" '{ f = $2; sub(/^\*/, "", f); if (f == n) { print $1; exit } }' "$sums")
    [[ -n $want ]] || die "$sums lists no sha256 for $name; write it again with: (cd $dir && sha256sum ${NAMES[*]} > SHA256SUMS)"
    [[ $want == "${sha[$name]}" ]] || die "$file has sha256 ${sha[$name]}, $sums says $want: the file was changed or damaged after it was recorded; copy it again from the machine that fetched it"
  fi
done

if [[ $mode == check ]]; then
  for name in "${NAMES[@]}"; do printf '%s\t%s\t%s\n' "$name" "$(stat -c %s -- "$dir/$name")" "${sha[$name]}"; done
  exit 0
fi

# install: into the one napi folder the installed onnxruntime-node has for linux/x64 (where its binding looks).
shopt -s nullglob
targets=("$ort_dir"/bin/napi-v*/linux/x64)
((${#targets[@]} == 1)) || die "found ${#targets[@]} folders $ort_dir/bin/napi-v*/linux/x64, expected one; is $ort_dir an onnxruntime-node 1.30 install for linux-x64?"
bin=${targets[0]}
# Copy all beside their final names first, verify the copies, then rename: no half-installed set.
for name in "${NAMES[@]}"; do
  cp -- "$dir/$name" "$bin/.$name.partial"
  got=$(sha256sum -- "$bin/.$name.partial" | cut -d' ' -f1)
  [[ $got == "${sha[$name]}" ]] || { rm -f -- "$bin"/.libonnxruntime_providers_*.partial; die "the copy of $name in $bin has sha256 $got, not ${sha[$name]}; check the disk"; }
done
for name in "${NAMES[@]}"; do chmod 755 -- "$bin/.$name.partial"; mv -f -- "$bin/.$name.partial" "$bin/$name"; done
echo "cuda-libs.sh: installed ${NAMES[*]} into $bin"
