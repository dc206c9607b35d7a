"""fp32 pack -> int8 or fp16 pack (README "Which pack on which hardware"), checked against the fp32 pack before it
is written. python3 -m models.export.convert --pack SRC --precision int8|fp16 --out DST [--name N] [--full-range]

int8: the encoder's MatMul/Gemm weights (every MatMul/Gemm whose weight is a constant) are quantised per output
channel, symmetric (zero point 0); activations are quantised per call (DynamicQuantizeLinear), so no calibration
set is needed and a product's shots never change the pack. The graph is standard ONNX (DynamicQuantizeLinear,
MatMulInteger, Cast, Mul, Add) that ORT fuses into its DynamicQuantizeMatMul kernel. Weights use 7 bits ([-63, 63])
unless --full-range: on AVX2 without VNNI the u8×s8 kernel sums pairs of products in int16 (vpmaddubsw) and
255·127·2 overflows it, 255·63·2 does not; on AVX-512 VNNI (or AVX-VNNI) CPUs the products go straight to int32,
so --full-range packs are exact there and a little closer to fp32. Attention (activation × activation) and the
head graphs stay fp32.

fp16: every float weight and computation of the encoder in half precision (inputs uint8, outputs cast back to
float32, so the runtime contract is unchanged); meant for GPU execution providers. The head graphs stay fp32.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import shutil
import sys
import warnings

import numpy as np

from .errors import ExportError
from .files import sha256_file

PRECISIONS = ("int8", "fp16")
# Largest |converted − fp32| the conversion accepts on seeded images, through the fp32 heads (zero-shot and
# few-shot with two shots): image scores and every pixel of the fused maps. Measured drift is far below these
# (README); they catch a broken conversion, not tune one.
TOLERANCE = {"int8": {"score": 0.05, "map": 0.1}, "fp16": {"score": 0.01, "map": 0.02}}


class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise ExportError("arguments", message, "see python3 -m models.export.convert --help")


def parser() -> Parser:
    p = Parser(prog="python3 -m models.export.convert", description="Convert an fp32 model pack to int8 or fp16.")
    p.add_argument("--pack", required=True, help="the fp32 pack folder to convert")
    p.add_argument("--precision", required=True, help="int8 (CPU) or fp16 (GPU)")
    p.add_argument("--out", required=True, help="pack folder to write (replaced only once the new pack is checked)")
    p.add_argument("--name", help="pack name (default: the source pack's name + -int8 / -fp16)")
    p.add_argument("--full-range", action="store_true", help="int8: 8-bit weights, for AVX-512 VNNI / AVX-VNNI CPUs")
    return p


def read_source(folder: str) -> dict:
    """The source manifest, after checking it is an fp32 pack whose files are intact."""
    path = os.path.join(folder, "manifest.json")
    try:
        with open(path) as fh:
            data = json.load(fh)
    except OSError as err:
        raise ExportError(folder, f"cannot read manifest.json ({err.strerror})", "give a pack folder written by pack export") from None
    except ValueError:
        raise ExportError(path, "is not valid JSON", "re-export the pack") from None
    if not isinstance(data, dict) or data.get("format") != "adaptclip-edge/pack" or not isinstance(data.get("files"), dict):
        raise ExportError(path, "is not an adaptclip-edge pack manifest", "give a pack folder written by pack export")
    precision = data.get("precision", "fp32")
    if precision != "fp32":
        raise ExportError(path, f"the pack is already {precision}; only fp32 packs can be converted",
                          "convert the fp32 pack it was made from")
    for key in ("encoder", "zeroShot", "fewShot"):
        spec = data["files"].get(key) or {}
        file = os.path.join(folder, str(spec.get("path", "")))
        if not os.path.isfile(file):
            raise ExportError(file, f"is missing (files.{key})", "copy the whole pack folder or re-export it")
        if sha256_file(file) != spec.get("sha256"):
            raise ExportError(file, "differs from the sha256 in manifest.json", "re-copy or re-export the pack")
    return data


# --- int8 -----------------------------------------------------------------------------------------------------

def quantize_weight(weight: np.ndarray, qmax: int) -> tuple[np.ndarray, np.ndarray]:
    """[K, N] float weight -> (int8 [K, N], float32 scale [N]): per output column, symmetric."""
    peak = np.abs(weight).max(axis=0).astype(np.float64)
    scale = np.where(peak > 0, peak / qmax, 1.0)
    q = np.clip(np.rint(weight / scale), -qmax, qmax).astype(np.int8)
    return q, scale.astype(np.float32)


def quantize_encoder(model, full_range: bool):
    import onnx
    from onnx import helper, numpy_helper, TensorProto

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    qmax = 127 if full_range else 63
    out_nodes, new_inits, used = [], [], 0
    for node in graph.node:
        weight_name = node.input[1] if len(node.input) > 1 else None
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain_gemm = node.op_type == "Gemm" and attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0 and not attrs.get("transA", 0)
        if not ((node.op_type == "MatMul" or plain_gemm) and weight_name in inits):
            out_nodes.append(node)
            continue
        weight = numpy_helper.to_array(inits[weight_name]).astype(np.float32)
        if weight.ndim != 2:
            out_nodes.append(node)
            continue
        if node.op_type == "Gemm" and attrs.get("transB", 0):
            weight = weight.T  # Gemm(transB=1) holds [N, K]
        q, scale = quantize_weight(np.ascontiguousarray(weight), qmax)
        base = f"q{used}_{node.name or node.output[0]}".replace("/", "_")
        used += 1
        new_inits += [numpy_helper.from_array(q, f"{base}_w"), numpy_helper.from_array(scale, f"{base}_w_scale"),
                      numpy_helper.from_array(np.array(0, dtype=np.int8), f"{base}_w_zp")]
        x = node.input[0]
        out_nodes += [
            helper.make_node("DynamicQuantizeLinear", [x], [f"{base}_x", f"{base}_x_scale", f"{base}_x_zp"], name=f"{base}_dq"),
            helper.make_node("MatMulInteger", [f"{base}_x", f"{base}_w", f"{base}_x_zp", f"{base}_w_zp"], [f"{base}_i32"], name=f"{base}_mm"),
            helper.make_node("Cast", [f"{base}_i32"], [f"{base}_f32"], to=TensorProto.FLOAT, name=f"{base}_cast"),
            helper.make_node("Mul", [f"{base}_x_scale", f"{base}_w_scale"], [f"{base}_scale"], name=f"{base}_scales"),
        ]
        has_bias = node.op_type == "Gemm" and len(node.input) > 2 and node.input[2]
        scaled = f"{base}_scaled" if has_bias else node.output[0]
        out_nodes.append(helper.make_node("Mul", [f"{base}_f32", f"{base}_scale"], [scaled], name=f"{base}_rescale"))
        if has_bias:
            out_nodes.append(helper.make_node("Add", [scaled, node.input[2]], [node.output[0]], name=f"{base}_bias"))
    if not used:
        raise ExportError("encoder.onnx", "has no MatMul or Gemm with a constant weight to quantise", "convert an fp32 pack made by pack export")
    still_used = {i for n in out_nodes for i in n.input}
    kept = [t for t in graph.initializer if t.name in still_used]
    del graph.node[:]
    graph.node.extend(out_nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept + new_inits)
    del graph.value_info[:]  # shapes inferred again by ORT; stale float entries would mislead
    if not any(op.domain in ("", "ai.onnx") and op.version >= 13 for op in model.opset_import):
        raise ExportError("encoder.onnx", "uses an opset below 13", "re-export the pack with this exporter")
    onnx.checker.check_model(model)
    return model, used


# --- fp16 -----------------------------------------------------------------------------------------------------

def convert_fp16(model):
    """Float initialisers, constants and casts to float16; inputs stay as they are, float outputs are cast back."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto

    graph = model.graph
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name))
    for node in graph.node:
        for attr in node.attribute:
            if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
                attr.i = TensorProto.FLOAT16
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
                attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float16), attr.t.name))
            if node.op_type == "LayerNormalization" and attr.name == "stash_type":
                attr.i = 1  # keep the mean and variance in float32 inside the kernel
    casts = []
    for out in graph.output:
        if out.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        half = f"{out.name}_fp16"
        for node in graph.node:
            node.output[:] = [half if o == out.name else o for o in node.output]
            node.input[:] = [half if i == out.name else i for i in node.input]
        casts.append(helper.make_node("Cast", [half], [out.name], to=TensorProto.FLOAT, name=f"{out.name}_to_fp32"))
    graph.node.extend(casts)
    del graph.value_info[:]
    onnx.checker.check_model(model)
    return model


# --- the check ------------------------------------------------------------------------------------------------

def check_conversion(source: str, converted_encoder: str, manifest: dict, precision: str) -> dict[str, float]:
    """fp32 pack vs the converted encoder, each through the fp32 heads, on seeded images; raises past TOLERANCE."""
    from .onnx_io import run_onnx
    from .pack import check_images

    size = manifest["image"]["size"]
    images = check_images(size, 4, seed=1234)
    queries, shots = images[:2], images[2:]
    files = {k: os.path.join(source, manifest["files"][k]["path"]) for k in ("encoder", "zeroShot", "fewShot")}
    worst: dict[str, float] = {}
    outs = {}
    for label, encoder in (("fp32", files["encoder"]), (precision, converted_encoder)):
        q = run_onnx(encoder, {"image": queries})
        s = run_onnx(encoder, {"image": shots})["patches"]
        tokens = s[:, :, 1:, :] / np.maximum(np.linalg.norm(s[:, :, 1:, :], axis=-1, keepdims=True), 1e-12)
        memory = np.ascontiguousarray(tokens.transpose(1, 0, 2, 3).reshape(s.shape[1], -1, s.shape[-1]), dtype=np.float32)
        feeds = {"global": q["global"], "patches": q["patches"]}
        outs[label] = {"zero": run_onnx(files["zeroShot"], feeds), "few": run_onnx(files["fewShot"], {**feeds, "memory": memory}), "global": q["global"]}
    a, b = outs["fp32"], outs[precision]
    cos = (a["global"] * b["global"]).sum(-1) / (np.linalg.norm(a["global"], axis=-1) * np.linalg.norm(b["global"], axis=-1))
    worst["global 1-cosine"] = float(1.0 - cos.min())
    limits = TOLERANCE[precision]
    for head in ("zero", "few"):
        for name, limit in (("score", limits["score"]), ("map", limits["map"])):
            diff = float(np.max(np.abs(a[head][name].astype(np.float64) - b[head][name].astype(np.float64))))
            worst[f"{head}-shot {name}"] = diff
            if not diff <= limit:
                raise ExportError(os.path.basename(converted_encoder),
                                  f"the {precision} pack's {head}-shot {name} differs from the fp32 pack's by {diff:.3g} on the check images (> {limit:g})",
                                  "the conversion is not usable for this pack: keep the fp32 pack (report it with the pack's manifest)")
    return worst


# --- the pack -------------------------------------------------------------------------------------------------

def convert(source: str, out: str, precision: str, name: str | None, full_range: bool) -> dict:
    import onnx
    from .pack import move_into_place, staging_dir

    if precision not in PRECISIONS:
        raise ExportError("--precision", f'"{precision}" is not one of {", ".join(PRECISIONS)} (fp32 packs come from pack export)', "pass --precision int8 or fp16")
    if full_range and precision != "int8":
        raise ExportError("--full-range", "applies to int8 only", "drop --full-range")
    manifest = read_source(source)
    if os.path.abspath(source) == os.path.abspath(out):
        raise ExportError("--out", "is the source pack itself", "write the converted pack to another folder")
    new_name = name or f"{manifest['name']}-{precision}"
    stage = staging_dir(out)
    try:
        src_encoder = os.path.join(source, manifest["files"]["encoder"]["path"])
        model = onnx.load(src_encoder)
        if precision == "int8":
            model, count = quantize_encoder(model, full_range)
            detail = f"{count} MatMul/Gemm weights per-channel symmetric int8 ({'8' if full_range else '7'}-bit), dynamic activations"
        else:
            model = convert_fp16(model)
            detail = "float16 weights and compute, float32 outputs"
        encoder_path = os.path.join(stage, "encoder.onnx")
        onnx.save(model, encoder_path)
        print(f"convert: {detail}; checking against the fp32 pack", flush=True)
        worst = check_conversion(source, encoder_path, manifest, precision)
        print("convert: largest |diff| vs fp32: " + ", ".join(f"{k} {v:.3g}" for k, v in worst.items()), flush=True)
        for key in ("zeroShot", "fewShot"):
            shutil.copyfile(os.path.join(source, manifest["files"][key]["path"]), os.path.join(stage, manifest["files"][key]["path"]))
        data = copy.deepcopy(manifest)
        data["name"] = new_name
        data["precision"] = precision
        data["conversion"] = {
            "from": hashlib.sha256(open(os.path.join(source, "manifest.json"), "rb").read()).hexdigest(),
            "method": detail,
            "tolerance": TOLERANCE[precision],
            "worst": {k: float(f"{v:.4g}") for k, v in worst.items()},
        }
        data["files"]["encoder"].update(path="encoder.onnx", sha256=sha256_file(encoder_path), bytes=os.path.getsize(encoder_path))
        with open(os.path.join(stage, "manifest.json"), "w") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
        move_into_place(stage, out)
        print(f"convert: wrote {out}", flush=True)
        return data
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore")
    try:
        args = parser().parse_args(sys.argv[1:] if argv is None else argv)
        convert(args.pack, args.out, args.precision, args.name, args.full_range)
        return 0
    except ExportError as err:
        print(err.line().replace("export: ", "convert: ", 1), file=sys.stderr)
        return 2
    except Exception as err:  # a bug, still one line
        print(f"convert: converter: unexpected {err.__class__.__name__}: {err}; report this bug with the command line used", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
