"""Int8 quantisation of the exported graph, on the shipped weights and real test images."""

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from ml import data
from ml.classifier import WEIGHTS_DIR, Classifier, OnnxRuntime
from ml.export import export_onnx, load_torch_model
from ml.normalization import network_input
from ml.quantize import calibration_sample, quantize_onnx


def test_calibration_sample_is_seeded_and_half_mirrored(fashion_test):
    images = fashion_test.images[:500]
    a, b = calibration_sample(images, count=64), calibration_sample(images, count=64)
    assert np.array_equal(a, b) and a.shape == (64, 28, 28)
    assert any(np.array_equal(a[1], img[:, ::-1]) for img in images)  # odd ones are mirror images
    assert any(np.array_equal(a[0], img) for img in images)


@pytest.mark.slow  # training, the whole test set or a benchmark: CI runs it
def test_quantized_graph_keeps_the_answers(classifier, fashion_test, tmp_path):
    fp32_path, int8_path = tmp_path / "fp32.onnx", tmp_path / "int8.onnx"
    export_onnx(load_torch_model(WEIGHTS_DIR / "model.pt", classifier.card.width), fp32_path)
    train = data.load_split("train")
    sample = network_input(calibration_sample(train.images, count=256), classifier.card.normalization)
    info = quantize_onnx(fp32_path, int8_path, sample)
    assert info["calibration_images"] == 256

    graph = onnx.load(str(int8_path)).graph
    quantized = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    assert sum(n.op_type == "QuantizeLinear" for n in graph.node) >= 10  # every conv's input
    gemm = next(n for n in graph.node if n.op_type == "Gemm")
    assert not quantized & set(gemm.input[1:])  # the head's weights stay float
    assert int8_path.stat().st_size < fp32_path.stat().st_size / 3
    # weights within ±64: no int16 overflow in u8·s8 pair sums on x86 CPUs without VNNI (255·64·2 < 32,768)
    weights = [numpy_helper.to_array(t) for t in graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(weights) >= 10 and all(w.min() >= -64 and w.max() <= 64 for w in weights)

    x, labels = fashion_test.images[:2000], fashion_test.labels[:2000]
    fp32 = Classifier(classifier.card, OnnxRuntime(fp32_path, 1), "onnx").predict_arrays(x)
    int8 = Classifier(classifier.card, OnnxRuntime(int8_path, 1), "onnx").predict_arrays(x)
    assert (fp32.argmax(1) == int8.argmax(1)).mean() >= 0.99
    assert abs((fp32.argmax(1) == labels).mean() - (int8.argmax(1) == labels).mean()) <= 0.005


def test_export_ships_the_float_graph_when_int8_loses_accuracy():
    from ml.quantize import MAX_QUANTIZATION_LOSS, keeps_accuracy

    assert keeps_accuracy(0.9450, 0.9452) and keeps_accuracy(0.9450, 0.9450 - MAX_QUANTIZATION_LOSS)
    assert not keeps_accuracy(0.9450, 0.9450 - MAX_QUANTIZATION_LOSS - 0.0001)
