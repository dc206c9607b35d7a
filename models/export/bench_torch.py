"""Reference timing of our torch AdaptCLIP modules at real sizes (ViT-L/14 at S=518 by default) with random weights,
on CPU or CUDA: what a frame costs on a GPU edge PC before ONNX Runtime is involved, and whether the GPU result equals
the CPU one. Usage: python3 -m models.export.bench_torch [--device cuda] [--size 518] [--batch 1 4] [--shots 0 4]
[--out FILE]. Writes JSON (stdout, and FILE if given)."""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from .model import Clip, ClipDims, Encoder, FewShot, PromptQueryAdapter, VisualAdapter, ZeroShot, shot_memory
from .tiny import _randomize

# OpenAI ViT-L/14@336px dimensions (the official AdaptCLIP backbone) and the official test settings.
VIT_L = dict(vision_width=1024, vision_layers=24, patch=14, grid=24, embed_dim=768, text_width=768, text_layers=12,
             context_length=77, vocab_size=49408)


def build(size: int, device: torch.device, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    dims = ClipDims(**VIT_L)
    clip = Clip(dims).eval()
    _randomize(clip, gen)
    grid = size // dims.patch
    encoder = Encoder(clip.visual, size, [6, 12, 18, 24], 20).eval()
    visual = VisualAdapter(dims.embed_dim, 4).eval()
    pq = PromptQueryAdapter(dims.embed_dim, 128, 4).eval()
    _randomize(visual, gen)
    _randomize(pq, gen)
    text = torch.randn(2, dims.embed_dim, generator=gen)
    learned = torch.randn(2, dims.embed_dim, generator=gen)
    zero = ZeroShot(visual, text, learned, size, grid, 4.0).eval()
    few = FewShot(zero, pq).eval()
    return encoder.to(device), zero.to(device), few.to(device)


def timed(fn, device: torch.device, repeats: int) -> tuple[float, object]:
    out = None
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 -m models.export.bench_torch")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", type=int, default=518)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--shots", type=int, nargs="+", default=[0, 4])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    encoder, zero, few = build(args.size, device)
    report = {"torch": torch.__version__, "python": platform.python_version(), "device": args.device,
              "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None, "size": args.size, "results": []}
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for batch in args.batch:
            images = torch.randint(0, 256, (batch, args.size, args.size, 3), dtype=torch.uint8, generator=gen).to(device)
            for shots in args.shots:
                memory = None
                if shots:
                    shot_images = torch.randint(0, 256, (shots, args.size, args.size, 3), dtype=torch.uint8, generator=gen).to(device)
                    memory = shot_memory(encoder(shot_images)[1])
                timed(lambda: encoder(images), device, 2)  # warm-up
                enc_ms, (glob, patches) = timed(lambda: encoder(images), device, args.repeats)
                heads = (lambda: few(glob, patches, memory)) if memory is not None else (lambda: zero(glob, patches))
                timed(heads, device, 2)
                heads_ms, _ = timed(heads, device, args.repeats)
                report["results"].append({"batch": batch, "shots": shots, "encoderMs": round(enc_ms, 2),
                                          "headsMs": round(heads_ms, 2), "totalMs": round(enc_ms + heads_ms, 2),
                                          "perFrameMs": round((enc_ms + heads_ms) / batch, 2)})
        if device.type == "cuda":
            # Same weights and input on the CPU: the GPU must compute the same model (TF32 off for a fair check).
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            image = torch.randint(0, 256, (1, args.size, args.size, 3), dtype=torch.uint8, generator=gen)
            gpu = zero(*encoder(image.to(device)))
            encoder_cpu, zero_cpu = encoder.cpu(), zero.cpu()
            cpu = zero_cpu(*encoder_cpu(image))
            report["cpuVsGpu"] = {"scoreAbsDiff": float((gpu[0].cpu() - cpu[0]).abs().max()),
                                  "mapMaxAbsDiff": float((gpu[1].cpu() - cpu[1]).abs().max())}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
