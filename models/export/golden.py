"""Golden files for the TypeScript parity tests: seeded PNG images and the torch outputs of every stage."""
from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import torch
from PIL import Image

from .model import shot_memory
from .pack import FEW_OUTPUTS, ZERO_OUTPUTS, Model

QUERIES = 3
SHOTS = 2
CASES = [(batch, shots) for shots in (0, 1, 2) for batch in (1, 3)]


def texture(size: int, rng: np.random.Generator) -> np.ndarray:
    """A part-like surface: base colour, a few soft stripes and low-frequency shading, mild noise."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) / size
    base = rng.uniform(70, 180, size=3)
    img = np.broadcast_to(base, (size, size, 3)).copy()
    for _ in range(3):
        freq, angle, phase = rng.uniform(2, 9), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * freq * (x * np.cos(angle) + y * np.sin(angle)) + phase)
        img += wave[..., None] * rng.uniform(6, 20, size=3)
    shade = torch.nn.functional.interpolate(torch.from_numpy(rng.normal(0, 15, size=(1, 3, 4, 4))), (size, size),
                                            mode="bicubic", align_corners=False)[0].permute(1, 2, 0).numpy()
    return img + shade + rng.normal(0, 3, size=(size, size, 3))


def add_defects(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A dark scratch and a bright blob at seeded places."""
    size = img.shape[0]
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    x0, y0, x1, y1 = rng.uniform(0.15, 0.85, size=4) * size
    length = max(np.hypot(x1 - x0, y1 - y0), 1.0)
    distance = np.abs((x1 - x0) * (y0 - y) - (x0 - x) * (y1 - y0)) / length
    along = ((x - x0) * (x1 - x0) + (y - y0) * (y1 - y0)) / length ** 2
    scratch = (distance < max(1.5, size / 120)) & (along > 0) & (along < 1)
    img = img.copy()
    img[scratch] *= 0.35
    cx, cy, r = rng.uniform(0.2, 0.8) * size, rng.uniform(0.2, 0.8) * size, size * rng.uniform(0.03, 0.07)
    blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
    return img + blob[..., None] * 110


def make_images(size: int, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    family = rng.integers(0, 2 ** 31)
    shots = [texture(size, np.random.default_rng([family, i])) for i in range(SHOTS)]
    queries = [texture(size, np.random.default_rng([family, 100 + i])) for i in range(QUERIES)]
    queries = [add_defects(q, rng) if i < 2 else q for i, q in enumerate(queries)]  # the last query is normal
    as_u8 = lambda a: np.clip(np.rint(a), 0, 255).astype(np.uint8)  # noqa: E731
    return [as_u8(q) for q in queries], [as_u8(s) for s in shots]


def write_f32(folder: str, rel: str, array: np.ndarray) -> dict:
    array = np.ascontiguousarray(array, dtype="<f4")
    array.tofile(os.path.join(folder, rel))
    return {"file": rel, "shape": list(array.shape)}


def write_golden(model: Model, pack_manifest: str, folder: str, seed: int) -> None:
    """Writes golden.json, images/ and one folder per case into folder."""
    size = model.opts.size
    queries, shots = make_images(size, seed)
    os.makedirs(os.path.join(folder, "images"))
    names = {}
    for prefix, images in (("q", queries), ("s", shots)):
        for i, img in enumerate(images):
            rel = f"images/{prefix}{i}.png"
            Image.fromarray(img, "RGB").save(os.path.join(folder, rel), optimize=False, compress_level=6)
            names[f"{prefix}{i}"] = rel
    with open(pack_manifest, "rb") as fh:
        pack_sha = hashlib.sha256(fh.read()).hexdigest()
    cases = []
    with torch.no_grad():
        for batch, k in CASES:
            name = f"b{batch}_k{k}"
            os.makedirs(os.path.join(folder, name))
            image = np.stack(queries[:batch])
            image.tofile(os.path.join(folder, name, "input.u8"))
            glob, patches = model.encoder(torch.from_numpy(image))
            outputs = {"global": write_f32(folder, f"{name}/global.f32", glob.numpy()),
                       "patches": write_f32(folder, f"{name}/patches.f32", patches.numpy())}
            if k == 0:
                results = dict(zip(ZERO_OUTPUTS, model.zero_shot(glob, patches)))
            else:
                _, shot_patches = model.encoder(torch.from_numpy(np.stack(shots[:k])))
                memory = shot_memory(shot_patches)
                outputs["memory"] = write_f32(folder, f"{name}/memory.f32", memory.numpy())
                results = dict(zip(FEW_OUTPUTS, model.few_shot(glob, patches, memory)))
            for key, value in results.items():
                outputs[key] = write_f32(folder, f"{name}/{key}.f32", value.numpy())
            cases.append({"name": name, "batch": batch, "shots": k,
                          "images": [names[f"q{i}"] for i in range(batch)], "shotImages": [names[f"s{i}"] for i in range(k)],
                          "input": {"file": f"{name}/input.u8", "shape": list(image.shape)}, "outputs": outputs})
    with open(os.path.join(folder, "golden.json"), "w") as fh:
        json.dump({"pack": pack_sha, "size": size, "seed": seed, "cases": cases}, fh, indent=2)
        fh.write("\n")
