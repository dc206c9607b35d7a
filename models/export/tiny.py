"""Seeded random checkpoints in the official formats, for tests and the demo pack: an OpenAI-style TorchScript
CLIP archive, an AdaptCLIP adapter dict (with non-trivial BatchNorm statistics) and a small BPE vocabulary."""
from __future__ import annotations

import math
import os
import zipfile

import torch
from torch import nn

from .checkpoints import textual_shapes
from .errors import ExportError
from .model import Clip, ClipDims, PromptQueryAdapter, VisualAdapter
from .prompts import learned_template, static_prompts
from .tokenizer import Tokenizer, clean, learn_merges, split_words, write_vocab

CLIP_FILE = "clip-tiny.pt"
ADAPTER_FILE = "adaptclip-tiny.pth"
VOCAB_FILE = "bpe-tiny.txt.gz"
CONTEXT = 77
TINY_MERGES = 160


class TinyOptions:
    def __init__(self, seed: int, size: int, patch: int, width: int, layers: int, text_width: int, text_layers: int,
                 embed_dim: int | None, mid_dim: int, n_ctx: int, feature_layers: list[int] | None, dpam: int | None):
        self.seed, self.size, self.patch, self.width, self.layers = seed, size, patch, width, layers
        self.text_width, self.text_layers, self.mid_dim, self.n_ctx = text_width, text_layers, mid_dim, n_ctx
        self.embed_dim = embed_dim or max(32, width // 2)
        self.feature_layers = feature_layers or default_feature_layers(layers)
        self.dpam = dpam or layers - self.feature_layers[0] + 2

    def check(self) -> None:
        def bad(option: str, problem: str, fix: str) -> ExportError:
            return ExportError(option, problem, fix)
        if self.size % self.patch:
            raise bad("--size", f"{self.size} is not a multiple of --patch {self.patch}", "pick a size divisible by the patch")
        if (self.size // self.patch) ** 2 < 10:
            raise bad("--size", f"{self.size} / {self.patch} gives fewer than 10 patches (the prompt-query head pools the top 10)", "use a larger size or smaller patch")
        for option, value in (("--width", self.width), ("--text-width", self.text_width)):
            if value < 64 or value % 64:
                raise bad(option, f"{value} is not a multiple of 64 (CLIP's attention head size)", "use 64, 128, 256, …")
        if self.layers < 1 or self.text_layers < 1:
            raise bad("--layers", "needs at least one block", "pass a positive layer count")
        if self.mid_dim < 2 or self.mid_dim % 2:
            raise bad("--mid-dim", f"{self.mid_dim} is not an even number ≥ 2", "pass e.g. 32")


def default_feature_layers(layers: int) -> list[int]:
    """Quarter points, as the official 6 12 18 24 of 24 blocks."""
    return sorted({max(1, (layers * i + 3) // 4) for i in range(1, 5)})


def _fill(name: str, tensor: torch.Tensor, gen: torch.Generator) -> None:
    """CLIP-like scales, so activations stay in a sensible range through the random network."""
    shape = tensor.shape
    if name in ("input_resolution", "context_length", "vocab_size"):
        return  # set from the dimensions, not random
    if name.endswith("num_batches_tracked"):
        tensor.fill_(1000)
    elif name.endswith("running_var"):
        tensor.copy_(torch.rand(shape, generator=gen) + 0.5)
    elif name.endswith("running_mean"):
        tensor.copy_(torch.randn(shape, generator=gen) * 0.1)
    elif name == "logit_scale":
        tensor.fill_(math.log(1 / 0.07))
    elif name == "token_embedding.weight":
        tensor.copy_(torch.randn(shape, generator=gen) * 0.02)
    elif name == "positional_embedding":
        tensor.copy_(torch.randn(shape, generator=gen) * 0.01)
    elif name in ("visual.class_embedding", "visual.positional_embedding", "visual.proj", "text_projection"):
        width = shape[0] if name.endswith("proj") or name == "text_projection" else shape[-1]
        tensor.copy_(torch.randn(shape, generator=gen) * width ** -0.5)
    elif len(shape) == 1:
        is_scale = name.endswith("weight")  # LayerNorm / BatchNorm scale
        tensor.copy_((1.0 if is_scale else 0.0) + torch.randn(shape, generator=gen) * 0.1)
    else:
        fan_in = math.prod(shape[1:])
        tensor.copy_(torch.randn(shape, generator=gen) / math.sqrt(fan_in))


def _randomize(module: nn.Module, gen: torch.Generator, prefix: str = "") -> None:
    seen: set[int] = set()
    with torch.no_grad():
        for name, tensor in module.state_dict(keep_vars=True).items():
            if id(tensor) in seen:  # heads shared across layers are filled once
                continue
            seen.add(id(tensor))
            _fill(prefix + name, tensor.data if isinstance(tensor, nn.Parameter) else tensor, gen)


class ArchivedClip(Clip):
    """What OpenAI's TorchScript archive holds: CLIP's weights plus three scalar tensors, and a forward."""

    def __init__(self, dims: ClipDims):
        super().__init__(dims)
        self.register_buffer("input_resolution", torch.tensor(dims.resolution))
        self.register_buffer("context_length", torch.tensor(dims.context_length))
        self.register_buffer("vocab_size", torch.tensor(dims.vocab_size))

    def forward(self, image: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.visual
        x = v.conv1(image).flatten(2).transpose(1, 2)
        x = torch.cat([v.class_embedding.reshape(1, 1, -1).expand(x.shape[0], 1, -1), x], dim=1) + v.positional_embedding
        x = v.ln_pre(x)
        for block in v.transformer.resblocks:
            x = block(x)
        return v.ln_post(x[:, 0]) @ v.proj, self.encode_text(text)


def _strip_debug_info(archive: str) -> None:
    """Drop TorchScript's *.debug_pkl entries: they record the absolute path of our sources, so a tiny archive
    made in another checkout would differ byte for byte. Loading never needs them."""
    stripped = archive + ".stripped"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(stripped, "w", zipfile.ZIP_STORED) as target:
        for entry in source.infolist():
            if not entry.filename.endswith(".debug_pkl"):
                target.writestr(zipfile.ZipInfo(entry.filename, date_time=(1980, 1, 1, 0, 0, 0)), source.read(entry))
    os.replace(stripped, archive)


def tiny_words() -> list[str]:
    normal, anomaly = static_prompts()
    return [w for text in normal + anomaly + [learned_template(4)] for w in split_words(clean(text))]


def write_tiny_sources(opts: TinyOptions, folder: str) -> tuple[str, str, str]:
    """Writes the three source files into folder; returns their paths (clip, adapter, vocab)."""
    opts.check()
    torch.manual_seed(opts.seed)
    gen = torch.Generator().manual_seed(opts.seed)
    vocab_path = os.path.join(folder, VOCAB_FILE)
    write_vocab(vocab_path, learn_merges(tiny_words(), TINY_MERGES))
    tokenizer = Tokenizer(vocab_path)

    grid = opts.size // opts.patch
    native_grid = max(2, round(grid * 24 / 37))  # like ViT-L/14@336 (24) run at 518 (37): positions get resized
    dims = ClipDims(opts.width, opts.layers, opts.patch, native_grid, opts.embed_dim, opts.text_width,
                    opts.text_layers, CONTEXT, tokenizer.vocab_size)
    clip = ArchivedClip(dims).eval()
    _randomize(clip, gen)
    for name in ("input_resolution", "context_length", "vocab_size"):
        getattr(clip, name).copy_(torch.tensor(getattr(dims, "resolution" if name == "input_resolution" else name)))
    example = (torch.zeros(1, 3, dims.resolution, dims.resolution), torch.tensor([tokenizer.tokenize(["a photo."], CONTEXT)[0]]))
    with torch.no_grad():
        traced = torch.jit.trace(clip, example, check_trace=False)
    clip_path = os.path.join(folder, CLIP_FILE)
    torch.jit.save(traced, clip_path)
    _strip_debug_info(clip_path)

    visual = VisualAdapter(opts.embed_dim, 4)
    pq = PromptQueryAdapter(opts.embed_dim, opts.mid_dim, len(opts.feature_layers))
    _randomize(visual, gen)
    _randomize(pq, gen)
    textual = textual_shapes(opts.n_ctx, opts.text_width, CONTEXT)
    tokens = torch.tensor(tokenizer.tokenize([learned_template(opts.n_ctx)], CONTEXT), dtype=torch.int32)
    with torch.no_grad():
        embedded = clip.token_embedding(tokens.long()).reshape(1, 1, CONTEXT, -1)
        for polarity in ("pos", "neg"):
            textual[f"ctx_{polarity}"] = torch.randn(textual[f"ctx_{polarity}"].shape, generator=gen) * 0.02
            textual[f"token_prefix_{polarity}"] = embedded[:, :, :1, :].clone()
            textual[f"token_suffix_{polarity}"] = embedded[:, :, 1 + opts.n_ctx:, :].clone()
            textual[f"tokenized_prompts_{polarity}"] = tokens.reshape(1, 1, CONTEXT).clone()
    adapter = {"textual_learner": textual, "visual_learner": visual.state_dict(), "pq_learner": pq.state_dict()}
    adapter_path = os.path.join(folder, ADAPTER_FILE)
    torch.save(adapter, adapter_path)
    return clip_path, adapter_path, vocab_path
