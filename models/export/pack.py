"""Official checkpoints -> model pack (DESIGN.md "Model pack contract"), written atomically."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import scipy.ndimage
import torch

from . import EXPORTER_VERSION
from .checkpoints import AdapterParts, build_clip, load_adapter, load_clip_state
from .errors import ExportError
from .files import sha256_file
from .model import (CLIP_MEAN, CLIP_STD, TEMPERATURE, TOPK, Clip, Encoder, FewShot, ZeroShot, harmonic_mean,
                    shot_memory)
from .onnx_io import export_graph, run_onnx
from .prompts import static_prompts
from .tokenizer import Tokenizer

FORMAT = "adaptclip-edge/pack"
FORMAT_VERSION = 1
ZERO_OUTPUTS = ["score", "map", "va_score", "va_map", "ta_score", "ta_map"]
FEW_OUTPUTS = ZERO_OUTPUTS + ["pq_score", "pq_map", "align_map"]
# Fused scores are probabilities; 0.5 is where "anomaly" becomes the likelier class. Products calibrate their own
# threshold from normal shots; this is only the fallback before they have any.
DEFAULT_THRESHOLD = 0.5
# Largest |torch - onnxruntime| the pre-write check accepts (scores, maps, features).
TOLERANCE = {"score": 1e-4, "map": 1e-3, "feature": 1e-3}


class PackOptions:
    def __init__(self, name: str, size: int, feature_layers: list[int], dpam: int, n_ctx: int | None, sigma: float,
                 backbone: str, seed: int | None, threshold: float = DEFAULT_THRESHOLD):
        self.name, self.size, self.feature_layers, self.dpam = name, size, feature_layers, dpam
        self.n_ctx, self.sigma, self.backbone, self.seed, self.threshold = n_ctx, sigma, backbone, seed, threshold


class Model:
    """Everything a pack computes, as torch modules (also what golden files are made from)."""

    def __init__(self, clip: Clip, adapter: AdapterParts, static_text: torch.Tensor, learned_text: torch.Tensor,
                 opts: PackOptions):
        self.clip, self.adapter, self.opts = clip, adapter, opts
        self.encoder = Encoder(clip.visual, opts.size, opts.feature_layers, opts.dpam).eval()
        self.zero_shot = ZeroShot(adapter.visual, static_text, learned_text, opts.size, opts.size // clip.dims.patch, opts.sigma).eval()
        self.few_shot = FewShot(self.zero_shot, adapter.pq).eval()

    @property
    def dim(self) -> int:
        return self.clip.dims.embed_dim

    @property
    def grid(self) -> int:
        return self.opts.size // self.clip.dims.patch


def text_features(clip: Clip, tokenizer: Tokenizer, adapter: AdapterParts) -> tuple[torch.Tensor, torch.Tensor]:
    """(static [2,D], learned [2,D]) un-normalised text vectors, rows (normal, anomaly)."""
    context = clip.dims.context_length
    with torch.no_grad():
        rows = []
        for prompts in static_prompts():
            tokens = torch.tensor(tokenizer.tokenize(prompts, context), dtype=torch.long)
            rows.append(clip.encode_text(tokens).mean(dim=0))  # averaged before normalising, as official
        static = torch.stack(rows)
        learned = []
        t = adapter.textual
        for polarity in ("pos", "neg"):
            embedded = torch.cat([t[f"token_prefix_{polarity}"], t[f"ctx_{polarity}"], t[f"token_suffix_{polarity}"]], dim=2)
            tokens = t[f"tokenized_prompts_{polarity}"].reshape(1, context).long()
            learned.append(clip.encode_text_embeddings(embedded.reshape(1, context, -1).float(), tokens)[0])
        return static, torch.stack(learned)


def check_options(clip_path: str, clip: Clip, opts: PackOptions) -> None:
    dims = clip.dims
    if opts.size % dims.patch:
        raise ExportError("--size", f"{opts.size} is not a multiple of the checkpoint's patch size {dims.patch}",
                          f"pass a multiple of {dims.patch}")
    if (opts.size // dims.patch) ** 2 < TOPK:
        raise ExportError("--size", f"{opts.size} gives fewer than {TOPK} patches", "pass a larger --size")
    bad = [layer for layer in opts.feature_layers if not 1 <= layer <= dims.vision_layers]
    if bad or len(set(opts.feature_layers)) != len(opts.feature_layers) or sorted(opts.feature_layers) != opts.feature_layers:
        raise ExportError("--layers", f"{opts.feature_layers} must be increasing block numbers within 1..{dims.vision_layers} "
                          f"({os.path.basename(clip_path)} has {dims.vision_layers} blocks)", "pass e.g. --layers 6 12 18 24")
    if not 2 <= opts.dpam <= dims.vision_layers + 1:
        raise ExportError("--dpam", f"{opts.dpam} must be within 2..{dims.vision_layers + 1} for {dims.vision_layers} blocks",
                          "pass the official value (20 for ViT-L/14, 10 for ViT-B-16+240)")
    if not opts.sigma > 0:
        raise ExportError("--sigma", f"{opts.sigma} is not positive", "pass the official 4")


def build_model(clip_path: str, adapter_path: str, vocab_path: str, opts: PackOptions) -> Model:
    clip = build_clip(clip_path, load_clip_state(clip_path))
    check_options(clip_path, clip, opts)
    tokenizer = Tokenizer(vocab_path)
    if tokenizer.vocab_size != clip.dims.vocab_size:
        raise ExportError(vocab_path, f"defines {tokenizer.vocab_size} tokens but {os.path.basename(clip_path)} embeds {clip.dims.vocab_size}",
                          "pass the vocabulary that belongs to this CLIP (bpe_simple_vocab_16e6.txt.gz for OpenAI's)")
    adapter = load_adapter(adapter_path, clip.dims, clip_path, len(opts.feature_layers), opts.n_ctx)
    opts.n_ctx = adapter.n_ctx
    static, learned = text_features(clip, tokenizer, adapter)
    return Model(clip, adapter, static, learned, opts)


def tensor_specs(model: Model) -> dict[str, list[dict]]:
    s, d, n, layers = model.opts.size, model.dim, model.grid ** 2, len(model.opts.feature_layers)
    f32 = lambda name, shape: {"name": name, "dtype": "float32", "shape": shape}  # noqa: E731
    per_image = {"score": ["batch"], "map": ["batch", s, s]}
    branch = lambda names: [f32(k, per_image["score" if k.endswith("score") else "map"]) for k in names]  # noqa: E731
    features = [f32("global", ["batch", d]), f32("patches", ["batch", layers, n + 1, d])]
    return {
        "encoder_in": [{"name": "image", "dtype": "uint8", "shape": ["batch", s, s, 3]}],
        "encoder_out": features,
        "zero_in": features,
        "zero_out": branch(ZERO_OUTPUTS),
        "few_in": features + [f32("memory", [layers, "memory", d])],
        "few_out": branch(FEW_OUTPUTS),
    }


def export_graphs(model: Model, folder: str) -> None:
    s, layers = model.opts.size, len(model.opts.feature_layers)
    image = torch.zeros(2, s, s, 3, dtype=torch.uint8)
    with torch.no_grad():
        glob, patches = model.encoder(image)
    memory = torch.nn.functional.normalize(torch.randn(layers, 3 * model.grid ** 2, model.dim), dim=-1)
    batch = {0: "batch"}
    maps = {name: batch for name in FEW_OUTPUTS}
    export_graph(model.encoder, (image,), os.path.join(folder, "encoder.onnx"), ["image"], ["global", "patches"],
                 {"image": batch, "global": batch, "patches": batch})
    export_graph(model.zero_shot, (glob, patches), os.path.join(folder, "zero_shot.onnx"), ["global", "patches"],
                 ZERO_OUTPUTS, {"global": batch, "patches": batch, **{k: maps[k] for k in ZERO_OUTPUTS}})
    export_graph(model.few_shot, (glob, patches, memory), os.path.join(folder, "few_shot.onnx"),
                 ["global", "patches", "memory"], FEW_OUTPUTS,
                 {"global": batch, "patches": batch, "memory": {1: "memory"}, **maps})


def check_images(size: int, count: int, seed: int) -> np.ndarray:
    """Smooth random images for the pre-write check (noise alone would make every patch alike)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(count, 8, 8, 3)).astype(np.float32)
    up = torch.nn.functional.interpolate(torch.from_numpy(coarse).permute(0, 3, 1, 2), (size, size), mode="bilinear", align_corners=False)
    noise = rng.normal(0, 12, size=(count, size, size, 3))
    return np.clip(up.permute(0, 2, 3, 1).numpy() + noise, 0, 255).astype(np.uint8)


def compare(file: str, name: str, got: np.ndarray, want: np.ndarray, tolerance: float) -> float:
    if got.shape != want.shape:
        raise ExportError(file, f"output {name} has shape {list(got.shape)} in onnxruntime but {list(want.shape)} in torch",
                          "report this exporter bug with the command line used")
    worst = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if got.size else 0.0
    if not worst <= tolerance:
        raise ExportError(file, f"output {name} differs from the torch forward by {worst:.3g} (> {tolerance:g})",
                          "report this exporter bug with the command line used")
    return worst


def scipy_gaussian(maps: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([scipy.ndimage.gaussian_filter(m, sigma=sigma, mode="reflect", truncate=4.0) for m in maps])


def verify_graphs(model: Model, folder: str) -> dict[str, float]:
    """Runs each graph in onnxruntime-node on seeded inputs (batch 2, memory of 2 shots) against the torch
    forward, and checks the in-graph Gaussian against scipy.ndimage.gaussian_filter."""
    images = check_images(model.opts.size, 4, seed=1234)
    queries, shots = images[:2], images[2:]
    worst: dict[str, float] = {}
    with torch.no_grad():
        glob, patches = model.encoder(torch.from_numpy(queries))
        _, shot_patches = model.encoder(torch.from_numpy(shots))
        memory = shot_memory(shot_patches)
        zero = dict(zip(ZERO_OUTPUTS, (t.numpy() for t in model.zero_shot(glob, patches))))
        few = dict(zip(FEW_OUTPUTS, (t.numpy() for t in model.few_shot(glob, patches, memory))))
    enc = run_onnx(os.path.join(folder, "encoder.onnx"), {"image": queries})
    worst["global"] = compare("encoder.onnx", "global", enc["global"], glob.numpy(), TOLERANCE["feature"])
    worst["patches"] = compare("encoder.onnx", "patches", enc["patches"], patches.numpy(), TOLERANCE["feature"])
    feeds = {"global": glob.numpy(), "patches": patches.numpy()}
    for file, want, extra in (("zero_shot.onnx", zero, {}), ("few_shot.onnx", few, {"memory": memory.numpy()})):
        got = run_onnx(os.path.join(folder, file), {**feeds, **extra})
        for name, value in want.items():
            tol = TOLERANCE["score"] if name.endswith("score") else TOLERANCE["map"]
            worst[f"{file}:{name}"] = compare(file, name, got[name], value, tol)
        # The Gaussian inside the graph against scipy's, on the graph's own pre-filter map.
        if file == "zero_shot.onnx":
            before = (got["va_map"] + got["ta_map"]) / 2
        else:
            mean3 = (got["va_map"] + got["ta_map"] + got["pq_map"]) / 3
            before = harmonic_mean([torch.from_numpy(mean3), torch.from_numpy(got["align_map"])]).numpy()
        worst[f"{file}:gaussian"] = compare(file, "map (against scipy.ndimage.gaussian_filter)", got["map"],
                                            scipy_gaussian(before, model.opts.sigma), TOLERANCE["map"])
    return worst


def manifest(model: Model, folder: str, sources: dict[str, str]) -> dict:
    o, dims, specs = model.opts, model.clip.dims, tensor_specs(model)

    def onnx_file(path: str, inputs: str, outputs: str) -> dict:
        full = os.path.join(folder, path)
        return {"path": path, "sha256": sha256_file(full), "bytes": os.path.getsize(full),
                "inputs": specs[inputs], "outputs": specs[outputs]}

    return {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "name": o.name,
        "backbone": o.backbone,
        "image": {"size": o.size, "patch": dims.patch, "grid": model.grid, "mean": list(CLIP_MEAN), "std": list(CLIP_STD),
                  "resize": "bicubic"},
        "model": {"dim": model.dim, "patches": model.grid ** 2, "featureLayers": list(o.feature_layers), "dpam": o.dpam,
                  "nCtx": o.n_ctx, "reduction": model.adapter.reduction, "midDim": model.adapter.mid_dim,
                  "sigma": o.sigma, "topk": TOPK, "temperature": TEMPERATURE},
        "defaultThreshold": o.threshold,
        "provenance": {
            "exporter": f"adaptclip-edge models.export {EXPORTER_VERSION} (torch {torch.__version__.split('+')[0]}, opset 17)",
            **{kind: {"file": os.path.basename(path), "sha256": sha256_file(path)} for kind, path in sources.items()},
            "seed": o.seed,
        },
        "files": {
            "encoder": onnx_file("encoder.onnx", "encoder_in", "encoder_out"),
            "zeroShot": onnx_file("zero_shot.onnx", "zero_in", "zero_out"),
            "fewShot": onnx_file("few_shot.onnx", "few_in", "few_out"),
        },
    }


def write_pack(model: Model, folder: str, sources: dict[str, str]) -> dict:
    """Graphs, checks, manifest into folder (a staging folder). Returns the manifest."""
    torch.manual_seed(0)  # the export's sample inputs, so graphs come out byte-identical
    export_graphs(model, folder)
    worst = verify_graphs(model, folder)
    print("export: onnxruntime vs torch, largest |diff|: " + ", ".join(f"{k} {v:.2g}" for k, v in worst.items()), flush=True)
    data = manifest(model, folder, sources)
    with open(os.path.join(folder, "manifest.json"), "w") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    return data


def staging_dir(final: str) -> str:
    parent = os.path.dirname(os.path.abspath(final)) or "."
    try:
        os.makedirs(parent, exist_ok=True)
        path = os.path.join(parent, f".{os.path.basename(os.path.abspath(final))}.tmp-{os.getpid()}")
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
    except OSError as err:
        raise ExportError(final, f"cannot create a staging folder beside it ({err.strerror})", "check the folder's permissions") from None
    return path


def move_into_place(staged: str, final: str) -> None:
    """Replaces final with staged; an existing final is only removed once the new one is in place."""
    final = os.path.abspath(final)
    old = None
    if os.path.lexists(final):
        old = f"{staged}.old"
        os.rename(final, old)
    os.rename(staged, final)
    if old:
        shutil.rmtree(old, ignore_errors=True)
