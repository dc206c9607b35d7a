"""ONNX export, onnx.checker, and running a graph through onnxruntime-node to check it against torch."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

import numpy as np
import onnx
import torch

from .errors import ExportError

OPSET = 17
HERE = os.path.dirname(os.path.abspath(__file__))


def export_graph(module: torch.nn.Module, args: tuple, path: str, inputs: list[str], outputs: list[str],
                 dynamic: dict[str, dict[int, str]]) -> None:
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, dynamic_axes=dynamic,
                          opset_version=OPSET, do_constant_folding=True)
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
    except Exception as err:  # the checker's own message is multi-line; keep its first line
        raise ExportError(os.path.basename(path), f"onnx.checker rejects the graph: {str(err).splitlines()[0]}",
                          "report this exporter bug with the command line used") from None


def node_binary() -> str:
    found = os.environ.get("ADAPTCLIP_NODE") or shutil.which("node")
    if not found:
        raise ExportError("node", "not found, so the ONNX graphs cannot be checked with onnxruntime-node",
                          "install Node.js 20 and run npm ci in the repository")
    return found


def run_onnx(path: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    with tempfile.TemporaryDirectory(prefix="adaptclip-ort-") as work:
        job = {"model": os.path.abspath(path), "outDir": work, "inputs": []}
        for name, array in feeds.items():
            file = os.path.join(work, f"in-{name}.bin")
            np.ascontiguousarray(array).tofile(file)
            job["inputs"].append({"name": name, "file": file, "dtype": str(array.dtype), "shape": list(array.shape)})
        job_file = os.path.join(work, "job.json")
        with open(job_file, "w") as fh:
            json.dump(job, fh)
        done = subprocess.run([node_binary(), os.path.join(HERE, "ort_run.mjs"), job_file], capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ExportError(os.path.basename(path), f"onnxruntime-node could not run it: {last}",
                              "run npm ci in the repository (onnxruntime-node 1.30) and retry")
        with open(os.path.join(work, "shapes.json")) as fh:
            shapes = json.load(fh)
        return {name: np.fromfile(os.path.join(work, f"{name}.f32"), dtype="<f4").reshape(shape) for name, shape in shapes.items()}
