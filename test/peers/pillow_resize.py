"""Writes seeded test images in many modes and formats, and Pillow's reference model input for each:
what the official loader computes (PIL Image.open; 'L' merged to RGB; resize((S, S), BICUBIC); convert('RGB')).

usage: pillow_resize.py SPEC.json OUT_DIR   (SPEC: [{"name", "width", "height", "size", "mode", "format", "seed"}])
Writes OUT_DIR/<name>.<ext> (the image), <name>.ref (S*S*3 bytes) and modes.json ({name: mode Pillow opened}).
"""
import json
import struct
import sys
import zlib

import numpy as np
from PIL import Image


def write_png16(path, samples, colour_type):
    """A 16-bit PNG (Pillow cannot write 16-bit colour): samples uint16 [H, W, C], big-endian rows, filter 0."""
    h, w = samples.shape[:2]
    rows = samples.astype(">u2").reshape(h, -1).tobytes()
    stride = len(rows) // h
    raw = b"".join(b"\0" + rows[y * stride:(y + 1) * stride] for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))
                 + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def write_bmp(path, pixels, kind):
    """BMPs Pillow cannot write: 16-bit 5-5-5 (BI_RGB) and 32-bit BI_BITFIELDS with an alpha mask (V4 header, 108
    bytes). pixels: uint8 [H, W, 4] RGBA; rows stored bottom-up."""
    h, w = pixels.shape[:2]
    r, g, b, a = (pixels[:, :, i].astype(np.uint32) for i in range(4))
    if kind == "bmp555":
        value = ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3)
        rows = value.astype("<u2")
        header_size, bpp, compression, masks = 40, 16, 0, b""
    else:
        value = (a << 24) | (r << 16) | (g << 8) | b
        rows = value.astype("<u4")
        header_size, bpp, compression = 108, 32, 3
        masks = struct.pack("<IIII", 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000) + b"BGRs" + bytes(36) + bytes(12)
    stride = (w * bpp + 31) // 32 * 4
    body = b"".join(rows[y].tobytes().ljust(stride, b"\0") for y in range(h - 1, -1, -1))
    info = struct.pack("<IiiHHIIiiII", header_size, w, h, 1, bpp, compression, len(body), 2835, 2835, 0, 0) + masks
    offset = 14 + len(info)
    with open(path, "wb") as fh:
        fh.write(b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset) + info + body)


def content(width, height, seed, channels):
    """Smooth shading plus noise and a few hard edges: exercises both the filter taps and the clamping."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = []
    for c in range(channels):
        fx, fy = rng.uniform(0.002, 0.2, 2)
        base = 127 + 100 * np.sin(x * fx + c) * np.cos(y * fy - c)
        base += rng.normal(0, 25, (height, width))
        base[(x.astype(int) // max(1, width // 5) + y.astype(int) // max(1, height // 4)) % 3 == 0] = 255 if c % 2 else 0
        planes.append(base)
    return np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8)


def make(case, path):
    w, h, mode, seed = case["width"], case["height"], case["mode"], case["seed"]
    if mode == "RGB":
        im = Image.fromarray(content(w, h, seed, 3), "RGB")
    elif mode == "L":
        im = Image.fromarray(content(w, h, seed, 1)[:, :, 0], "L")
    elif mode == "LA":
        a = content(w, h, seed, 2)
        im = Image.fromarray(a, "LA")
    elif mode == "RGBA":
        a = content(w, h, seed, 4)
        a[: h // 3, :, 3] = 0  # fully transparent band: colour kept where alpha is 0
        im = Image.fromarray(a, "RGBA")
    elif mode in ("P", "PT"):
        im = Image.fromarray(content(w, h, seed, 3), "RGB").convert("P", palette=Image.ADAPTIVE, colors=64)
        if mode == "PT":
            im.info["transparency"] = 3
    elif mode == "1":
        im = Image.fromarray(content(w, h, seed, 1)[:, :, 0], "L").convert("1")
    elif mode == "I16":
        a = content(w, h, seed, 1)[:, :, 0].astype(np.uint16)
        # Mostly below 256 (what the official loader keeps), with some pixels above (clipped to 255 after the resize).
        im = Image.fromarray((a + (a > 200) * 3000).astype(np.uint16), "I;16")
    elif mode in ("bmp555", "bmpRGBA"):
        write_bmp(path, content(w, h, seed, 4), mode)
        return
    elif mode in ("RGB16", "RGBA16", "LA16"):
        channels = {"RGB16": 3, "RGBA16": 4, "LA16": 2}[mode]
        wide = content(w, h, seed, channels).astype(np.uint16) * 257 + content(w, h, seed + 1000, channels)
        write_png16(path, wide, {"RGB16": 2, "RGBA16": 6, "LA16": 4}[mode])
        return
    else:
        raise SystemExit(f"unknown mode {mode}")
    fmt = case["format"]
    if fmt == "png":
        im.save(path, "PNG", **({"transparency": 3} if mode == "PT" else {}))
    elif fmt == "jpeg":
        im.save(path, "JPEG", quality=90)
    elif fmt == "bmp":
        im.save(path, "BMP")
    elif fmt == "tiff":
        im.save(path, "TIFF")
    else:
        raise SystemExit(f"unknown format {fmt}")


def reference(path, size):
    im = Image.open(path)
    opened = im.mode
    if im.mode == "L":
        im = Image.merge("RGB", (im, im, im))
    out = im.resize((size, size), Image.BICUBIC).convert("RGB")
    return opened, out.tobytes()


def main():
    spec_path, out_dir = sys.argv[1], sys.argv[2]
    cases = json.load(open(spec_path))
    modes = {}
    for case in cases:
        ext = {"png": "png", "jpeg": "jpg", "bmp": "bmp", "tiff": "tif"}[case["format"]]
        path = f"{out_dir}/{case['name']}.{ext}"
        if not case.get("exists"):
            make(case, path)
        opened, ref = reference(path, case["size"])
        modes[case["name"]] = opened
        with open(f"{out_dir}/{case['name']}.ref", "wb") as fh:
            fh.write(ref)
    json.dump(modes, open(f"{out_dir}/modes.json", "w"))


main()
