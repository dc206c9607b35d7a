#!/usr/bin/env bash
# Installs, from Debian's apt, what the tests need and the npm registry cannot provide.
# Idempotent and fast when everything is present; as root on a fresh Debian 12 it installs the rest.
set -euo pipefail

PACKAGES=(
  python3-torch python3-onnx python3-numpy python3-scipy python3-pil python3-sklearn
  ffmpeg mosquitto
  aravis-tools libaravis-0.8-0 gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-ugly gir1.2-gst-rtsp-server-1.0 python3-gi
  chromium iproute2 util-linux
  fonts-dejavu-core
  fonts-wqy-microhei # Chinese glyphs: the UI's zh-Hans screenshots (test/e2e-i18n.test.ts) show text, not boxes
  systemd
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]})); then
  echo "test/setup.sh: installing missing apt packages: ${missing[*]}"
  if [[ $(id -u) -eq 0 ]]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else
    echo "test/setup.sh: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The tests run these with /usr/bin/python3 (Debian's), never a python3 that happens to be first on PATH.
/usr/bin/python3 -c 'import torch, onnx, numpy, scipy, PIL' >/dev/null
