"""python3 -m models.export — see README "Model packs" and `--help`."""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import sys
import warnings

from .errors import ExportError

PRESETS = {
    # Official test settings (gaobb/AdaptCLIP test.py and scripts): image size, feature blocks, DPAM layer.
    "vit-l-14-336": {"backbone": "ViT-L/14@336px", "size": 518, "layers": [6, 12, 18, 24], "dpam": 20},
    "vit-b-16-plus-240": {"backbone": "ViT-B-16-plus-240", "size": 512, "layers": [3, 6, 9, 12], "dpam": 10},
}


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors become our one-line form too
        raise ExportError("arguments", message, "see python3 -m models.export --help")


def parser() -> Parser:
    p = Parser(prog="python3 -m models.export", description="Export an AdaptCLIP model pack (ONNX + manifest) from "
               "official checkpoints, or from seeded random tiny checkpoints (--tiny).")
    p.add_argument("--clip", help="OpenAI CLIP checkpoint: TorchScript archive (ViT-L-14-336px.pt) or state_dict")
    p.add_argument("--adapter", help="AdaptCLIP checkpoint: dict of textual_learner, visual_learner, pq_learner")
    p.add_argument("--vocab", help="CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz)")
    p.add_argument("--preset", help=f"official settings: {', '.join(PRESETS)}")
    p.add_argument("--out", required=True, help="pack folder to write (replaced only once the new pack is complete)")
    p.add_argument("--name", help="pack name (default: the --out folder's name)")
    p.add_argument("--size", type=int, help="image side S")
    p.add_argument("--layers", type=int, nargs="+", help="feature blocks, 1-based (with --tiny: the vision block count)")
    p.add_argument("--dpam", type=int, help="DPAM layer: the last dpam-1 blocks run the dual V-V path")
    p.add_argument("--n-ctx", type=int, help="learned context length (checked against the adapter checkpoint)")
    p.add_argument("--sigma", type=float, default=4.0, help="Gaussian sigma of the final map (official 4)")
    p.add_argument("--threshold", type=float, default=None, help="defaultThreshold in the manifest (default 0.5)")
    p.add_argument("--precision", default="fp32", help="fp32 (default), int8 (CPU) or fp16 (GPU): int8/fp16 are converted "
                   "from the fp32 export and checked against it (python3 -m models.export.convert --help)")
    p.add_argument("--full-range", action="store_true", help="with --precision int8: 8-bit weights, for AVX-512 VNNI CPUs")
    p.add_argument("--golden", help="also write golden files (torch outputs for seeded images) into this folder")
    p.add_argument("--golden-seed", type=int, help="seed of the golden images (default: --seed, else 0)")
    t = p.add_argument_group("tiny packs (seeded random checkpoints in the official formats)")
    t.add_argument("--tiny", action="store_true")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--patch", type=int, default=16)
    t.add_argument("--width", type=int, default=128, help="vision width (multiple of 64)")
    t.add_argument("--text-width", type=int, default=64)
    t.add_argument("--text-layers", type=int, default=2)
    t.add_argument("--embed-dim", type=int, help="output dim D (default: max(32, width/2))")
    t.add_argument("--mid-dim", type=int, default=32, help="prompt-query head width m")
    t.add_argument("--feature-layers", type=int, nargs="+", help="feature blocks (default: quarter points)")
    t.add_argument("--sources", help="where the tiny checkpoints go (default: OUT.sources)")
    return p


def _name(args: argparse.Namespace) -> str:
    name = args.name or os.path.basename(os.path.abspath(args.out))
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise ExportError("--name", f'"{name}" may only hold letters, digits, ".", "_" and "-"', "pass --name with such a name")
    return name


def _threshold(args: argparse.Namespace) -> float:
    from .pack import DEFAULT_THRESHOLD
    value = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    if not 0 <= value <= 1:
        raise ExportError("--threshold", f"{value} is outside 0..1", "pass a probability such as 0.5")
    return value


def _pin_blas_kernels() -> None:
    """The same checkpoints must give the same pack, byte for byte (the demo pack is committed and regenerated; a
    pack's id hashes its files). The text features baked into the graphs go through OpenBLAS, which picks its
    kernels by CPU: its AVX-512 ones round them differently (1e-7) from its AVX2 ones, which made the committed
    demo pack. So ask for the AVX2 ones wherever the CPU has them, unless OPENBLAS_CORETYPE is set. Must run before
    torch (and with it OpenBLAS) is loaded."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return
    try:
        with open("/proc/cpuinfo") as fh:
            avx2 = any(line.startswith("flags") and "avx2" in line.split() for line in fh)
    except OSError:
        return
    if avx2:
        os.environ.setdefault("OPENBLAS_CORETYPE", "HASWELL")


def run(argv: list[str]) -> None:
    args = parser().parse_args(argv)
    _pin_blas_kernels()
    from .pack import PackOptions, build_model, move_into_place, staging_dir, write_pack

    name, threshold = _name(args), _threshold(args)
    if args.precision not in ("fp32", "int8", "fp16"):
        raise ExportError("--precision", f'"{args.precision}" is not fp32, int8 or fp16', "pass one of them")
    if args.precision != "fp32" and args.golden:
        raise ExportError("--golden", "golden files hold fp32 torch outputs and apply to fp32 packs only", "drop --golden or --precision")
    if args.tiny:
        from .tiny import TinyOptions, write_tiny_sources
        if args.preset:
            raise ExportError("--preset", "does not apply to --tiny", "drop --preset or --tiny")
        if args.layers is not None and len(args.layers) != 1:
            raise ExportError("--layers", "with --tiny takes one number, the vision block count", "pass e.g. --layers 6 (and --feature-layers for the feature blocks)")
        tiny = TinyOptions(seed=args.seed, size=args.size or 224, patch=args.patch, width=args.width,
                           layers=(args.layers or [6])[0], text_width=args.text_width, text_layers=args.text_layers,
                           embed_dim=args.embed_dim, mid_dim=args.mid_dim, n_ctx=args.n_ctx or 12,
                           feature_layers=args.feature_layers, dpam=args.dpam)
        tiny.check()
        opts = PackOptions(name, tiny.size, tiny.feature_layers, tiny.dpam, None, args.sigma, "tiny-random", args.seed, threshold)
        sources_final = args.sources or os.path.abspath(args.out) + ".sources"
    else:
        for flag in ("clip", "adapter", "vocab"):
            if not getattr(args, flag):
                raise ExportError(f"--{flag}", "is required (or pass --tiny)", "see python3 -m models.export --help")
        preset = {}
        if args.preset:
            if args.preset not in PRESETS:
                raise ExportError("--preset", f'unknown preset "{args.preset}"', f"use one of {', '.join(PRESETS)}")
            preset = PRESETS[args.preset]
        size, layers, dpam = args.size or preset.get("size"), args.layers or preset.get("layers"), args.dpam or preset.get("dpam")
        if not (size and layers and dpam):
            raise ExportError("--preset", "missing, and --size, --layers and --dpam are not all given", f"pass --preset ({', '.join(PRESETS)})")
        backbone = preset.get("backbone") or "custom CLIP ViT"
        opts = PackOptions(name, size, list(layers), dpam, args.n_ctx, args.sigma, backbone, None, threshold)
        sources_final = None

    golden_seed = args.golden_seed if args.golden_seed is not None else (args.seed if args.tiny else 0)
    stage = staging_dir(args.out)
    try:
        if args.tiny:
            os.makedirs(os.path.join(stage, "sources"))
            clip, adapter, vocab = write_tiny_sources(tiny, os.path.join(stage, "sources"))
        else:
            clip, adapter, vocab = args.clip, args.adapter, args.vocab
        print(f"export: reading {clip}, {adapter}, {vocab}", flush=True)
        model = build_model(clip, adapter, vocab, opts)
        pack_dir = os.path.join(stage, "pack")
        os.makedirs(pack_dir)
        print(f"export: writing and checking ONNX graphs (S={opts.size}, D={model.dim}, layers={opts.feature_layers})", flush=True)
        write_pack(model, pack_dir, {"clip": clip, "adapter": adapter, "vocab": vocab})
        if args.precision != "fp32":
            from .convert import convert
            converted = os.path.join(stage, "converted")
            convert(pack_dir, converted, args.precision, name, args.full_range)
            pack_dir = converted
        if args.golden:
            from .golden import write_golden
            golden_dir = os.path.join(stage, "golden")
            write_golden(model, os.path.join(pack_dir, "manifest.json"), golden_dir, golden_seed)
        # Everything is complete and checked: move into place.
        move_into_place(pack_dir, args.out)
        if sources_final:
            move_into_place(os.path.join(stage, "sources"), sources_final)
        if args.golden:
            move_into_place(golden_dir, args.golden)
        print(f"export: wrote {args.out}" + (f" and golden files {args.golden}" if args.golden else ""), flush=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    try:
        run(sys.argv[1:] if argv is None else argv)
        return 0
    except ExportError as err:
        print(err.line(), file=sys.stderr)
        return 2
    except Exception as err:  # a bug, still reported in the one-line form
        print(ExportError("exporter", f"unexpected {err.__class__.__name__}: {err}", "report this bug with the command line used").line(), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
