"""AdaptCLIP's fixed prompt words (facts of the trained model: the checkpoints were trained against them)."""

OBJECT = "object"
NORMAL_STATES = ["{}", "flawless {}", "perfect {}", "unblemished {}", "{} without flaw", "{} without defect", "{} without damage"]
ANOMALY_STATES = ["damaged {}", "{} with flaw", "{} with defect", "{} with damage"]
TEMPLATES = [
    "a cropped photo of the {}.", "a close-up photo of a {}.", "a close-up photo of the {}.", "a bright photo of a {}.",
    "a bright photo of the {}.", "a dark photo of the {}.", "a dark photo of a {}.", "a jpeg corrupted photo of the {}.",
    "a jpeg corrupted photo of the {}.", "a blurry photo of the {}.", "a blurry photo of a {}.", "a photo of a {}.",
    "a photo of the {}.", "a photo of a small {}.", "a photo of the small {}.", "a photo of a large {}.",
    "a photo of the large {}.", "a photo of the {} for visual inspection.", "a photo of a {} for visual inspection.",
    "a photo of the {} for anomaly detection.", "a photo of a {} for anomaly detection.",
]


def static_prompts() -> tuple[list[str], list[str]]:
    """(normal, anomaly) sentences: every state of "object" in every template."""
    normal = [t.format(s.format(OBJECT)) for s in NORMAL_STATES for t in TEMPLATES]
    anomaly = [t.format(s.format(OBJECT)) for s in ANOMALY_STATES for t in TEMPLATES]
    return normal, anomaly


def learned_template(n_ctx: int) -> str:
    """The sentence whose X placeholders the textual adapter's learned context vectors replace."""
    return " ".join(["X"] * n_ctx) + "."
