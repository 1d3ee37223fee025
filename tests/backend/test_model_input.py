"""What the model saw: /media/{id}/model-input is the 28×28 image the answer was made from."""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image

from ml import open_image, to_fashion_mnist
from tests.conftest import csrf_of, fashion_png, jpeg_bytes


def test_model_input_is_the_28_by_28_image_and_only_for_its_owner(make_client, settings):
    alice = make_client(settings)
    photo = jpeg_bytes(size=(600, 800))
    r = alice.post("/c", data={"csrf_token": csrf_of(alice), "text": ""},
                   files={"files": ("coat.jpg", photo, "image/jpeg")})
    assert r.status_code == 200
    src = re.search(r'src="(/media/[0-9a-f]+/model-input)"', r.text).group(1)
    got = alice.get(src)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    seen = np.asarray(Image.open(io.BytesIO(got.content)))
    assert seen.shape == (28, 28)
    assert np.array_equal(seen, to_fashion_mnist(open_image(photo)))
    assert "All ten classes" in r.text and r.text.count("<li><span>") >= 10
    assert make_client(settings).get(src).status_code == 404


def test_heatmap_marks_the_garment_and_only_for_its_owner(make_client, settings, fashion_test):
    alice = make_client(settings)
    r = alice.post("/c", data={"csrf_token": csrf_of(alice), "text": ""},
                   files={"files": ("trouser.png", fashion_png(fashion_test, 2), "image/png")})
    src = re.search(r'src="(/predictions/[0-9a-f]+/heatmap)"', r.text).group(1)
    got = alice.get(src)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    rgb = np.asarray(Image.open(io.BytesIO(got.content)).convert("RGB")).astype(int)
    assert rgb.shape == (28, 28, 3)
    red = rgb[..., 0] - rgb[..., 1]  # how red a pixel was made
    garment = fashion_test.images[2] > 30
    assert red[garment].mean() > red[~garment].mean()  # on the trousers, not the black around them
    assert red.max() > 100  # something moved the answer
    assert make_client(settings).get(src).status_code == 404
