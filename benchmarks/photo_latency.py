"""One 400×534 JPEG photo through ml.Classifier.predict at batch 1, against the seed pipeline
(MobileNetV2 with 10 outputs, Grayscale→3 channels, Resize(224), ToTensor, ImageNet Normalize),
both timed in this process on the same bytes. Prints the CPU, medians and the ratios.

    .venv/bin/python benchmarks/photo_latency.py [--photo PATH] [--repeat 200] [--weights DIR]

On a CPU with AVX-512 VNNI, `ONEDNN_MAX_CPU_ISA=AVX2` caps torch (the seed pipeline and the torch
row) at AVX2: a proxy for the many CPUs without VNNI, where int8 runs no faster than float.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import torch
import torchvision
from PIL import Image
from torchvision import transforms

# this checkout's ml package, not the one the .venv was installed from (a worktree sharing a .venv
# timed the main tree's conversion and graph otherwise)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.cpu import describe  # noqa: E402
from ml import Classifier, open_image, photos  # noqa: E402


def default_photo() -> bytes:
    if photos.available():
        for p in photos.list_photos("validation", folders=("t-shirt",)):
            with Image.open(p.path) as img:
                if img.size == (400, 534):
                    return p.path.read_bytes()
    # no shared photos: a made 400×534 JPEG of the same size and kind (its figures differ: say so)
    print(f"no shared photos at {photos.photos_dir()}: timing a made 400×534 JPEG instead "
          f"(set {photos.PHOTOS_ENV})", file=sys.stderr)
    img = Image.new("RGB", (400, 534), (200, 190, 170))
    img.paste(Image.new("RGB", (200, 260), (30, 60, 150)), (100, 130))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def median_ms(fn, repeat: int) -> float:
    for _ in range(10):
        fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photo", type=Path)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--weights", default=None, help="a shipment folder (default: the shipped one)")
    args = parser.parse_args()
    data = args.photo.read_bytes() if args.photo else default_photo()
    torch.set_num_threads(args.threads)

    seed_model = torchvision.models.mobilenet_v2(num_classes=10).eval()
    seed_transform = transforms.Compose([
        transforms.Grayscale(num_output_channels=3), transforms.Resize(224), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

    def seed_pipeline():
        with torch.inference_mode():
            img = Image.open(io.BytesIO(data)).convert("RGB")
            return seed_model(seed_transform(img)[None]).softmax(1)

    results = {}
    for runtime in ("onnx", "torch"):
        clf = Classifier.load(args.weights, runtime=runtime, threads=args.threads)
        results[runtime] = median_ms(lambda clf=clf: clf.predict([open_image(data)]), args.repeat)
    seed = median_ms(seed_pipeline, max(30, args.repeat // 5))
    with Image.open(io.BytesIO(data)) as img:
        size = img.size
    print(f"CPU: {describe()}; model {clf.version}")
    print(f"photo {size[0]}×{size[1]} JPEG, {len(data) / 1024:.0f} KiB, {args.threads} threads, medians")
    print(f"seed pipeline (MobileNetV2 224 px)      {seed:8.2f} ms")
    for runtime, ms in results.items():
        print(f"ml.Classifier.predict ({runtime:5s})         {ms:8.2f} ms   {seed / ms:5.1f}× faster")


if __name__ == "__main__":
    main()
