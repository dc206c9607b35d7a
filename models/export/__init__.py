"""AdaptCLIP model-pack exporter: official CLIP + AdaptCLIP checkpoints -> ONNX pack (see DESIGN.md)."""

EXPORTER_VERSION = "1"
