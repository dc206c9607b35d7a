"""Reading the official checkpoint formats and checking every key and shape against what our modules expect."""
from __future__ import annotations

import os
import torch

from .errors import ExportError
from .model import Clip, ClipDims, PromptQueryAdapter, VisualAdapter

CLIP_FIX = "pass OpenAI's CLIP checkpoint (e.g. ViT-L-14-336px.pt) or a state_dict with OpenAI's key names"
ADAPTER_FIX = "pass an official AdaptCLIP checkpoint (a torch.save dict of textual_learner, visual_learner, pq_learner)"
# Scalars OpenAI's TorchScript archive carries beside the weights; its build_model drops them too.
CLIP_EXTRAS = ("input_resolution", "context_length", "vocab_size")
ADAPTER_PARTS = ("textual_learner", "visual_learner", "pq_learner")


def _require_file(path: str, what: str) -> None:
    if not os.path.isfile(path):
        raise ExportError(path, f"no such {what} file", f"check the path given for the {what}")


def _tensor_dict(value: object) -> bool:
    return isinstance(value, dict) and bool(value) and all(isinstance(k, str) and torch.is_tensor(v) for k, v in value.items())


def load_clip_state(path: str) -> dict[str, torch.Tensor]:
    """OpenAI's TorchScript archive, or a plain (possibly 'module.'-prefixed or {'state_dict': …}) state_dict."""
    _require_file(path, "CLIP checkpoint")
    state: object = None
    try:
        state = torch.jit.load(path, map_location="cpu").state_dict()
    except Exception:
        try:
            state = torch.load(path, map_location="cpu")
        except Exception as err:
            raise ExportError(path, f"not a torch checkpoint ({err.__class__.__name__})", CLIP_FIX) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not _tensor_dict(state):
        raise ExportError(path, "holds no state_dict of named tensors", CLIP_FIX)
    assert isinstance(state, dict)
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items() if k not in CLIP_EXTRAS}


def infer_clip_dims(path: str, state: dict[str, torch.Tensor]) -> ClipDims:
    def shape(key: str) -> tuple[int, ...]:
        if key not in state:
            kind = "a ResNet CLIP (only ViT CLIPs are supported)" if key == "visual.proj" and "visual.attnpool.positional_embedding" in state else "not an OpenAI CLIP ViT state_dict"
            raise ExportError(path, f"missing key {key}: {kind}", CLIP_FIX)
        return tuple(state[key].shape)

    conv = shape("visual.conv1.weight")
    positions = shape("visual.positional_embedding")[0]
    grid = round((positions - 1) ** 0.5)
    if len(conv) != 4 or grid * grid + 1 != positions:
        raise ExportError(path, f"visual.conv1.weight {list(conv)} / visual.positional_embedding {positions} rows do not describe a ViT", CLIP_FIX)
    vision_layers = len({k.split(".")[3] for k in state if k.startswith("visual.transformer.resblocks.")})
    text_layers = len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")})
    dims = ClipDims(
        vision_width=conv[0], vision_layers=vision_layers, patch=conv[-1], grid=grid,
        embed_dim=shape("text_projection")[1], text_width=shape("ln_final.weight")[0], text_layers=text_layers,
        context_length=shape("positional_embedding")[0], vocab_size=shape("token_embedding.weight")[0],
    )
    for width, what in ((dims.vision_width, "vision"), (dims.text_width, "text")):
        if width < 64 or width % 64:
            raise ExportError(path, f"{what} width {width} is not a multiple of 64 (CLIP's head size)", CLIP_FIX)
    return dims


def check_state(path: str, section: str, actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], fix: str) -> None:
    """Every expected key present with its shape, no others; the first problem becomes the error."""
    where = f"{section}." if section else ""
    for key, tensor in expected.items():
        if key not in actual:
            raise ExportError(path, f"missing key {where}{key}", fix)
    for key in actual:
        if key not in expected:
            raise ExportError(path, f"unexpected key {where}{key}", fix)
    for key, tensor in expected.items():
        got = actual[key]
        if not torch.is_tensor(got):
            raise ExportError(path, f"{where}{key} is not a tensor", fix)
        if tuple(got.shape) != tuple(tensor.shape):
            raise ExportError(path, f"{where}{key} has shape {list(got.shape)}, expected {list(tensor.shape)}", fix)


def build_clip(path: str, state: dict[str, torch.Tensor]) -> Clip:
    dims = infer_clip_dims(path, state)
    clip = Clip(dims)
    check_state(path, "", state, clip.state_dict(), CLIP_FIX)
    clip.load_state_dict(state)
    return clip.eval()


class AdapterParts:
    def __init__(self, textual: dict[str, torch.Tensor], visual: VisualAdapter, pq: PromptQueryAdapter,
                 n_ctx: int, reduction: int, mid_dim: int):
        self.textual, self.visual, self.pq = textual, visual, pq
        self.n_ctx, self.reduction, self.mid_dim = n_ctx, reduction, mid_dim


def textual_shapes(n_ctx: int, width: int, context: int) -> dict[str, torch.Tensor]:
    """The official TextualAdapter's state_dict: learned contexts, the frozen prefix/suffix embeddings of
    "X … X." and its token ids (one normal and one anomaly prompt)."""
    suffix = context - 1 - n_ctx
    return {
        "ctx_pos": torch.empty(1, 1, n_ctx, width), "ctx_neg": torch.empty(1, 1, n_ctx, width),
        "token_prefix_pos": torch.empty(1, 1, 1, width), "token_suffix_pos": torch.empty(1, 1, suffix, width),
        "token_prefix_neg": torch.empty(1, 1, 1, width), "token_suffix_neg": torch.empty(1, 1, suffix, width),
        "tokenized_prompts_pos": torch.empty(1, 1, context, dtype=torch.int32),
        "tokenized_prompts_neg": torch.empty(1, 1, context, dtype=torch.int32),
    }


def load_adapter(path: str, dims: ClipDims, clip_path: str, feature_layers: int, n_ctx_option: int | None) -> AdapterParts:
    _require_file(path, "AdaptCLIP checkpoint")
    try:
        checkpoint = torch.load(path, map_location="cpu")
    except Exception as err:
        raise ExportError(path, f"not a torch checkpoint ({err.__class__.__name__})", ADAPTER_FIX) from None
    if not isinstance(checkpoint, dict):
        raise ExportError(path, f"holds a {type(checkpoint).__name__}, not a dict of the three adapters", ADAPTER_FIX)
    for part in ADAPTER_PARTS:
        if part not in checkpoint:
            raise ExportError(path, f"missing key {part}", ADAPTER_FIX)
    for part in checkpoint:
        if part not in ADAPTER_PARTS:
            raise ExportError(path, f"unexpected key {part}", ADAPTER_FIX)
    for part in ADAPTER_PARTS:
        if not _tensor_dict(checkpoint[part]):
            raise ExportError(path, f"{part} is not a state_dict of named tensors", ADAPTER_FIX)
    textual, visual_sd, pq_sd = (checkpoint[p] for p in ADAPTER_PARTS)

    def mismatch(problem: str) -> ExportError:
        return ExportError(path, f"{problem}, but the CLIP checkpoint {os.path.basename(clip_path)} has {_clip_dims_text(dims)}",
                           "pass the AdaptCLIP checkpoint trained on this CLIP backbone")

    # Dimensions first, so a checkpoint for another backbone gets the mismatch message, not a shape error.
    ctx = textual.get("ctx_pos")
    if ctx is not None and ctx.dim() == 4:
        if ctx.shape[-1] != dims.text_width:
            raise mismatch(f"textual_learner.ctx_pos has width {ctx.shape[-1]}")
    bottleneck = visual_sd.get("local_adater.fc.0.weight")
    if bottleneck is not None and bottleneck.dim() == 2 and bottleneck.shape[1] != dims.embed_dim:
        raise mismatch(f"visual_learner works on {bottleneck.shape[1]}-d features")
    first_bn = pq_sd.get("sharebn.0.weight")
    if first_bn is not None and first_bn.dim() == 1 and first_bn.shape[0] != dims.embed_dim:
        raise mismatch(f"pq_learner works on {first_bn.shape[0]}-d features")

    n_ctx = ctx.shape[2] if ctx is not None and ctx.dim() == 4 else (n_ctx_option or 12)
    if n_ctx_option is not None and n_ctx_option != n_ctx:
        raise ExportError(path, f"textual_learner has {n_ctx} learned context vectors but --n-ctx is {n_ctx_option}",
                          f"drop --n-ctx or pass --n-ctx {n_ctx}")
    check_state(path, "textual_learner", textual, textual_shapes(n_ctx, dims.text_width, dims.context_length), ADAPTER_FIX)

    reduction = dims.embed_dim // bottleneck.shape[0] if bottleneck is not None and bottleneck.dim() == 2 and bottleneck.shape[0] else 4
    visual = VisualAdapter(dims.embed_dim, max(reduction, 1))
    check_state(path, "visual_learner", visual_sd, visual.state_dict(), ADAPTER_FIX)
    visual.load_state_dict(visual_sd)

    layers = len({k.split(".")[1] for k in pq_sd if k.startswith("sharebn.")})
    if layers != feature_layers:
        raise ExportError(path, f"pq_learner has {layers} per-layer BatchNorms but {feature_layers} feature layers were chosen",
                          f"pass --layers with {layers} block numbers (the layers it was trained on)")
    head = pq_sd.get("local_adapter.0.0.weight")
    mid = head.shape[0] if head is not None and head.dim() == 4 else 128
    pq = PromptQueryAdapter(dims.embed_dim, mid, layers)
    check_state(path, "pq_learner", pq_sd, pq.state_dict(), ADAPTER_FIX)
    pq.load_state_dict(pq_sd)
    return AdapterParts(dict(textual), visual.eval(), pq.eval(), n_ctx, max(reduction, 1), mid)


def _clip_dims_text(dims: ClipDims) -> str:
    return f"{dims.embed_dim}-d features and {dims.text_width}-wide text"
