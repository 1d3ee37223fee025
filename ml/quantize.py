"""Post-training int8 quantisation of the exported ONNX graph (ONNX Runtime static quantisation).

Why: on this CPU (AVX-512 VNNI) the int8 graph runs a 28×28 image about 2.4× faster at batch 1 and
uses about a third of the CPU time on one thread, with the same Fashion-MNIST test accuracy; the
forward pass was the largest share of a served request. Weights are quantised per output channel,
activations per tensor with ranges seen on a fixed, seeded sample of *training* images (never
validation or test), so an export is reproducible and the card's figures stay honest.

Weights use 7 of their 8 bits (reduce_range): x86 CPUs without VNNI (AVX2 only, e.g. AMD Zen 2/3,
common in clouds) multiply uint8 by int8 in pairs summed into int16, which overflows for full-range
weights (255·127·2 > 32,767); 255·64·2 does not. Same speed here; test accuracy 94.52% against 94.40%
with 8-bit weights and 94.44% in float (chosen for portability, not on these figures).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

CALIBRATION_IMAGES = 1024
CALIBRATION_BATCH = 128
CALIBRATION_SEED = 0
# the linear head stays in float: uint8 logits would be steps of ~0.15, coarse for the energy score
# that decides "unsure", and the head is a 512×10 product that costs nothing
FLOAT_OPS = ("Gemm", "MatMul")
# how much single-view validation accuracy the int8 graph may lose before the float graph ships
MAX_QUANTIZATION_LOSS = 0.003


def calibration_sample(images: np.ndarray, count: int = CALIBRATION_IMAGES, seed: int = CALIBRATION_SEED) -> np.ndarray:
    """A seeded subset of uint8 [N,28,28] images, every other one mirrored (the classifier runs
    mirrored views too, so their ranges belong in the calibration)."""
    rng = np.random.default_rng(seed)
    chosen = images[np.sort(rng.choice(len(images), size=min(count, len(images)), replace=False))].copy()
    chosen[1::2] = chosen[1::2, :, ::-1]
    return chosen


def quantize_onnx(fp32_path: Path, out_path: Path, normalized: np.ndarray) -> dict:
    """Write an int8 (QDQ) copy of fp32_path, calibrated on normalized float32 [N,1,28,28] inputs.
    Returns what the model card records about it."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.start = 0

        def get_next(self) -> dict | None:
            if self.start >= len(normalized):
                return None
            batch = normalized[self.start:self.start + CALIBRATION_BATCH]
            self.start += CALIBRATION_BATCH
            return {input_name: batch}

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared))
        graph = onnx.load(str(prepared)).graph
        input_name = graph.input[0].name
        head = [node.name for node in graph.node if node.op_type in FLOAT_OPS]
        quantize_static(str(prepared), str(out_path), Batches(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=head,
                        reduce_range=True)
    return {"method": "onnxruntime static, QDQ, int8 weights per channel (7-bit range: no int16 overflow on "
                      "CPUs without VNNI), uint8 activations (MinMax); the linear head stays float",
            "calibration_images": len(normalized), "calibration_seed": CALIBRATION_SEED,
            "calibrated_on": "Fashion-MNIST training images (half mirrored), never validation or test"}


def keeps_accuracy(float_accuracy: float, int8_accuracy: float) -> bool:
    return int8_accuracy >= float_accuracy - MAX_QUANTIZATION_LOSS
