"""Our torch modules for AdaptCLIP inference. Parameter names follow OpenAI's CLIP and the official AdaptCLIP
adapters so their state_dicts load unchanged; the computation follows DESIGN.md ("The AdaptCLIP model")."""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
TEMPERATURE = 0.07
TOPK = 10


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class Attention(nn.Module):
    """nn.MultiheadAttention's parameters (in_proj_*, out_proj) with a plain batch-first computation plus the
    V-V path (query = key = value = the value projection) used by the dual-path blocks."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        # A Python float, so the graph holds a constant that ORT folds into the score MatMul (FusedMatMul alpha);
        # q.shape[-1] ** -0.5 traced into Pow(Cast(Shape)) and cost one more pass over every score tensor.
        self.scale = float((width // heads) ** -0.5)
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * width))
        self.out_proj = nn.Linear(width, width)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], x.shape[1], self.heads, -1).transpose(1, 2)

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1)

    def _qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self._split(t) for t in linear_2d(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = self._qkv(x)
        scores = (q @ k.transpose(-2, -1)) * self.scale
        if mask is not None:
            scores = scores + mask
        return linear_2d(self._merge(scores.softmax(dim=-1) @ v), self.out_proj.weight, self.out_proj.bias)

    def dual(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(V-V path output, original path output) for the same input, as the official dual-path attention."""
        q, k, v = self._qkv(x)
        original = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1) @ v
        value_value = ((v @ v.transpose(-2, -1)) * self.scale).softmax(dim=-1) @ v
        out = lambda t: linear_2d(self._merge(t), self.out_proj.weight, self.out_proj.bias)  # noqa: E731
        return out(value_value), out(original)


def linear_2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """F.linear on the tokens as one [B*T, C] matrix: exported as one Gemm with the bias inside, where a 3-D
    input gives MatMul then a separate Add pass over the output (ORT fuses that only for 2-D inputs)."""
    shape = x.shape
    return F.linear(x.reshape(-1, shape[-1]), weight, bias).reshape(shape[0], shape[1], weight.shape[0])


class Block(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.attn = Attention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(width, width * 4)), ("gelu", QuickGELU()), ("c_proj", nn.Linear(width * 4, width)),
        ]))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.feed_forward(self.ln_2(x))

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        """self.mlp, each Linear as a 2-D Gemm (see linear_2d)."""
        fc, proj = self.mlp.c_fc, self.mlp.c_proj
        return linear_2d(self.mlp.gelu(linear_2d(x, fc.weight, fc.bias)), proj.weight, proj.bias)


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.resblocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])


class VisionTower(nn.Module):
    def __init__(self, width: int, layers: int, patch: int, grid: int, embed_dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.empty(width))
        self.positional_embedding = nn.Parameter(torch.empty(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, width // 64)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.empty(width, embed_dim))


class TextTower(nn.Module):
    """The text half of OpenAI's CLIP (its keys sit at the top level of CLIP's state_dict)."""


class Clip(nn.Module):
    """OpenAI's CLIP ViT, parameter for parameter (state_dict keys identical to OpenAI's)."""

    def __init__(self, dims: "ClipDims"):
        super().__init__()
        self.dims = dims
        self.visual = VisionTower(dims.vision_width, dims.vision_layers, dims.patch, dims.grid, dims.embed_dim)
        self.transformer = Transformer(dims.text_width, dims.text_layers, dims.text_width // 64)
        self.token_embedding = nn.Embedding(dims.vocab_size, dims.text_width)
        self.positional_embedding = nn.Parameter(torch.empty(dims.context_length, dims.text_width))
        self.ln_final = nn.LayerNorm(dims.text_width)
        self.text_projection = nn.Parameter(torch.empty(dims.text_width, dims.embed_dim))
        self.logit_scale = nn.Parameter(torch.ones([]))

    def encode_text_embeddings(self, embeddings: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Text transformer on token embeddings; the feature is taken at the EOT token (the highest id)."""
        length = embeddings.shape[1]
        mask = torch.full((length, length), float("-inf")).triu_(1)
        x = embeddings + self.positional_embedding
        for block in self.transformer.resblocks:
            x = block(x, mask)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ self.text_projection

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.encode_text_embeddings(self.token_embedding(tokens), tokens)


class ClipDims:
    """Dimensions of a CLIP ViT, inferred from tensor shapes as OpenAI's build_model does."""

    def __init__(self, vision_width: int, vision_layers: int, patch: int, grid: int, embed_dim: int,
                 text_width: int, text_layers: int, context_length: int, vocab_size: int):
        self.vision_width, self.vision_layers, self.patch, self.grid = vision_width, vision_layers, patch, grid
        self.embed_dim, self.text_width, self.text_layers = embed_dim, text_width, text_layers
        self.context_length, self.vocab_size = context_length, vocab_size

    @property
    def resolution(self) -> int:
        return self.patch * self.grid

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def resized_positions(positional: torch.Tensor, grid: int) -> torch.Tensor:
    """Class position kept, patch positions bilinearly resized (align_corners=False) to grid x grid."""
    side = int((positional.shape[0] - 1) ** 0.5)
    if side == grid:
        return positional.clone()
    patches = positional[1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, (grid, grid), mode="bilinear", align_corners=False)
    return torch.cat([positional[:1], patches.reshape(positional.shape[1], grid * grid).t()], dim=0)


class Encoder(nn.Module):
    """uint8 RGB [B,S,S,3] -> global [B,D] (original path class token @ proj, no ln_post) and
    patches [B,L,N+1,D] (ln_post then @ proj; V-V path tokens in dual-path blocks)."""

    def __init__(self, visual: VisionTower, size: int, feature_layers: list[int], dpam: int):
        super().__init__()
        self.visual = visual
        self.feature_layers = list(feature_layers)
        self.first_dual = len(visual.transformer.resblocks) - (dpam - 1) + 1  # 1-based index of the first dual block
        grid = size // visual.conv1.kernel_size[0]
        self.register_buffer("positions", resized_positions(visual.positional_embedding.detach(), grid))
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).reshape(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(CLIP_STD).reshape(1, 3, 1, 1) * 255.0)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.visual
        x = (image.permute(0, 3, 1, 2).float() - self.mean) / self.std
        x = v.conv1(x).flatten(2).transpose(1, 2)
        cls = v.class_embedding.reshape(1, 1, -1).expand(x.shape[0], 1, x.shape[-1])
        x = v.ln_pre(torch.cat([cls, x], dim=1) + self.positions)
        tokens: dict[int, torch.Tensor] = {}
        vv = original = x
        for index, block in enumerate(v.transformer.resblocks, start=1):
            if index < self.first_dual:
                original = block(original)
                vv = original
            else:
                # Dual path: both attentions read the original path; the V-V path skips the MLP.
                vv_res, ori_res = block.attn.dual(block.ln_1(original))
                if index == self.first_dual and index - 1 in tokens:
                    # Official quirk: its first dual block adds the V-V residual to its input in place, so a
                    # feature taken from the block before it ends up holding that V-V output.
                    tokens[index - 1] = original + vv_res
                vv = vv + vv_res if index > self.first_dual else original + vv_res
                original = original + ori_res
                original = original + block.feed_forward(block.ln_2(original))
            if index in self.feature_layers:
                tokens[index] = vv
        glob = original[:, 0, :] @ v.proj
        patches = torch.stack([v.ln_post(tokens[layer]) @ v.proj for layer in self.feature_layers], dim=1)
        return glob, patches


class ResidualMlp(nn.Module):
    """The official ResMLP: x + Linear(BatchNorm(ReLU-less bottleneck)) with keys fc.0, fc.1, fc.3."""

    def __init__(self, dim: int, reduction: int):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(dim, dim // reduction, bias=False), nn.BatchNorm1d(dim // reduction),
                                nn.ReLU(), nn.Linear(dim // reduction, dim, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        return (flat + self.fc(flat)).reshape(shape)


class VisualAdapter(nn.Module):
    def __init__(self, dim: int, reduction: int):
        super().__init__()
        self.local_adater = ResidualMlp(dim, reduction)  # sic: the official key name
        self.global_adapter = ResidualMlp(dim, reduction)


def segmentation_head(dim: int, mid: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(dim, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
        nn.ConvTranspose2d(mid, mid, 2, stride=2), nn.Conv2d(mid, mid // 2, 3, padding=1, bias=False),
        nn.BatchNorm2d(mid // 2), nn.ReLU(), nn.ConvTranspose2d(mid // 2, mid // 2, 2, stride=2),
        nn.Conv2d(mid // 2, 2, 1),
    )


def classification_head(dim: int, mid: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(dim, mid, bias=False), nn.BatchNorm1d(mid), nn.ReLU(), nn.Linear(mid, mid // 2, bias=False),
        nn.BatchNorm1d(mid // 2), nn.ReLU(), nn.Linear(mid // 2, 2, bias=False),
    )


class PromptQueryAdapter(nn.Module):
    """Per-layer BatchNorm2d plus one segmentation and one classification head shared by all layers; the
    official module lists the shared head once per layer, so its state_dict repeats the keys per layer."""

    def __init__(self, dim: int, mid: int, layers: int):
        super().__init__()
        self.sharebn = nn.ModuleList([nn.BatchNorm2d(dim) for _ in range(layers)])
        local, glob = segmentation_head(dim, mid), classification_head(dim, mid)
        self.local_adapter = nn.ModuleList([local] * layers)
        self.global_adapter = nn.ModuleList([glob] * layers)


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """scipy.ndimage.gaussian_filter's 1-D kernel (order 0)."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (sigma * sigma) * x * x)
    return phi / phi.sum()


class Gaussian(nn.Module):
    """scipy.ndimage.gaussian_filter(sigma, truncate=4, mode='reflect') on [B,S,S]: symmetric padding that
    repeats the edge sample (scipy's 'reflect', not ONNX Pad's), done as a gather so ONNX matches exactly."""

    def __init__(self, size: int, sigma: float):
        super().__init__()
        kernel = torch.from_numpy(gaussian_kernel(sigma)).float()
        radius = (kernel.numel() - 1) // 2
        index = np.pad(np.arange(size), radius, mode="symmetric")
        self.register_buffer("index", torch.from_numpy(index).long())
        self.register_buffer("vertical", kernel.reshape(1, 1, -1, 1))
        self.register_buffer("horizontal", kernel.reshape(1, 1, 1, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = x.index_select(1, self.index).index_select(2, self.index).unsqueeze(1)
        return F.conv2d(F.conv2d(padded, self.vertical), self.horizontal).squeeze(1)


def harmonic_mean(tensors: list[torch.Tensor]) -> torch.Tensor:
    return len(tensors) / torch.stack([1.0 / t for t in tensors]).sum(dim=0)


def arithmetic_mean(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack(tensors).mean(dim=0)


def finite_or_zero(x: torch.Tensor) -> torch.Tensor:
    return torch.where(torch.isnan(x) | torch.isinf(x), torch.zeros_like(x), x)


def normalized(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True)


class ZeroShot(nn.Module):
    """Visual adapter (static text) and textual adapter (learned text) on the last feature layer, fused."""

    def __init__(self, visual_adapter: VisualAdapter, static_text: torch.Tensor, learned_text: torch.Tensor,
                 size: int, grid: int, sigma: float):
        super().__init__()
        self.adapter = visual_adapter
        self.size, self.grid = size, grid
        self.register_buffer("static_text", normalized(static_text))  # [2, D]: normal, anomaly
        self.register_buffer("learned_text", normalized(learned_text))
        self.gaussian = Gaussian(size, sigma)

    def branch(self, glob: torch.Tensor, patches: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        score = ((normalized(glob) @ text.t()) / TEMPERATURE).softmax(dim=-1)[:, 1]
        probs = ((normalized(patches)[:, 1:, :] @ text.t()) / TEMPERATURE).softmax(dim=-1)
        probs = probs.reshape(probs.shape[0], self.grid, self.grid, 2).permute(0, 3, 1, 2)
        amap = F.interpolate(probs, (self.size, self.size), mode="bilinear", align_corners=False)[:, 1]
        return score, amap

    def branches(self, glob: torch.Tensor, patches: torch.Tensor):
        last = patches[:, -1]
        va_score, va_map = self.branch(self.adapter.global_adapter(glob), self.adapter.local_adater(last), self.static_text)
        ta_score, ta_map = self.branch(glob, last, self.learned_text)
        return va_score, va_map, ta_score, ta_map

    def forward(self, glob: torch.Tensor, patches: torch.Tensor):
        va_score, va_map, ta_score, ta_map = self.branches(glob, patches)
        amap = finite_or_zero(self.gaussian(arithmetic_mean([va_map, ta_map])))
        score = finite_or_zero(arithmetic_mean([va_score, ta_score, amap.flatten(1).max(dim=1)[0]]))
        return score, amap, va_score, va_map, ta_score, ta_map


class FewShot(nn.Module):
    """Zero-shot branches plus the prompt-query adapter against `memory` [L,M,D] of normalised shot tokens."""

    def __init__(self, zero_shot: ZeroShot, pq: PromptQueryAdapter):
        super().__init__()
        self.zero = zero_shot
        self.sharebn = pq.sharebn
        self.segment = pq.local_adapter[-1]  # the official load leaves the last listed copy in effect
        self.classify = pq.global_adapter[-1]

    def forward(self, glob: torch.Tensor, patches: torch.Tensor, memory: torch.Tensor):
        size, grid = self.zero.size, self.zero.grid
        va_score, va_map, ta_score, ta_map = self.zero.branches(glob, patches)
        pq_maps, pq_scores, aligns = [], [], []
        for layer, bn in enumerate(self.sharebn):
            query = F.normalize(patches[:, layer], dim=-1)[:, 1:, :]  # [B,N,D]
            shots = memory[layer]  # [M,D]
            # The nearest shot token by cosine in one pass over the [B,N,M] similarities: TopK k=1 gives value and
            # index together (ORT's ArgMax alone is slower than that TopK; the official min(1 - q·m) materialised
            # 1 - q·m and scanned it twice). 1 - max(q·m) equals min(1 - q·m) exactly: rounding 1 - x is monotone.
            best, nearest = torch.topk(query @ shots.t(), 1, dim=-1)
            distance, nearest = 1.0 - best[..., 0], nearest[..., 0]  # [B,N]
            batch, dim = query.shape[0], query.shape[2]
            align = distance.reshape(batch, 1, grid, grid)
            aligns.append(F.interpolate(align, (size, size), mode="bilinear", align_corners=False))
            aligned = shots[nearest]  # [B,N,D]
            joint = query + torch.abs(query - aligned)
            joint = bn(joint.permute(0, 2, 1).reshape(batch, dim, grid, grid))
            seg = self.segment(joint).softmax(dim=1)
            pq_maps.append(F.interpolate(seg, (size, size), mode="bilinear", align_corners=False)[:, 1])
            flat = joint.reshape(batch, dim, -1)
            pooled = (flat.mean(dim=-1) + flat.topk(TOPK, dim=-1)[0].mean(dim=-1)) / 2.0
            pq_scores.append(self.classify(pooled).softmax(dim=-1)[:, 1])
        pq_map = arithmetic_mean(pq_maps)
        pq_score = arithmetic_mean(pq_scores)
        align_map = harmonic_mean(aligns)[:, 0]
        fused = harmonic_mean([arithmetic_mean([va_map, ta_map, pq_map]), align_map])
        amap = finite_or_zero(self.zero.gaussian(fused))
        score = finite_or_zero(harmonic_mean([arithmetic_mean([va_score, ta_score, pq_score]), amap.flatten(1).max(dim=1)[0]]))
        return score, amap, va_score, va_map, ta_score, ta_map, pq_score, pq_map, align_map


def shot_memory(patches: torch.Tensor) -> torch.Tensor:
    """[K,L,N+1,D] encoder patches of K shots -> [L,K*N,D]: normalised, class token dropped, shots in order."""
    tokens = F.normalize(patches, dim=-1)[:, :, 1:, :]
    return tokens.permute(1, 0, 2, 3).reshape(patches.shape[1], -1, patches.shape[-1])
