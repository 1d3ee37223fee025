"""Corrections made in the app become training data: History's corrections zip → `closetchat adapt
--corrections` on a tiny budget → a loadable shipment with a new version, shipped only when no class
got worse on the photos held out of it."""

import io
import json
import shutil
import zipfile

import pytest
from PIL import Image

from ml import LABELS, Classifier, photos
from ml.classifier import WEIGHTS_DIR
from ml.retrain import corrections_config, retrain
from tests.conftest import csrf_of


@pytest.mark.slow
def test_corrections_zip_round_trip(client, photos_available, tmp_path):
    shipped = Classifier.load(WEIGHTS_DIR)
    candidates = photos.list_photos("validation")
    answers = shipped.predict([Image.open(p.path) for p in candidates])
    # photos the shipped graph gets wrong, as a user would correct them; the better the graph, the fewer
    chosen = [p for p, a in zip(candidates, answers, strict=True) if p.scored and not p.is_right(a.index)][:12]
    assert len(chosen) >= 6
    token = csrf_of(client)
    thread = "/c"
    for photo in chosen:  # one photo a message, each answer corrected to the photo's own class
        sent = client.post(thread if thread == "/c" else f"{thread}/messages", data={"csrf_token": token},
                           files={"files": (photo.path.name, photo.path.read_bytes(), "image/jpeg")},
                           follow_redirects=False)
        assert sent.status_code in (200, 303), sent.text
        thread = sent.headers.get("location", thread)
        pid = client.get(thread).text.split('id="reply-')[-1].split('"')[0]
        corrected = client.post(f"/predictions/{pid}/feedback", data={"csrf_token": token, "label": LABELS[photo.own_class]})
        assert corrected.status_code == 200
    archive = client.get("/history/corrections.zip").content
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        # an answer "corrected" to the class it gave is no correction: only the wrong ones are in the zip
        assert 3 <= len([n for n in z.namelist() if n != "labels.csv"]) <= len(chosen)
    corrections = tmp_path / "corrections.zip"
    corrections.write_bytes(archive)

    shipment = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR, shipment)
    before = Classifier.load(shipment).version
    cfg = corrections_config(corrections, shipment, str(tmp_path / "run"), steps=3, views_per_photo=2,
                             shared_photos=False, fashion_batch=32, photo_batch=8)
    comparison = retrain(cfg, shipment)

    staged = Classifier.load(comparison["staged"])
    assert staged.version == comparison["after"]["version"] != before
    assert comparison["before"]["version"] == before
    assert comparison["held_out_photos"] == sum(r["photos"] for r in comparison["before"]["per_class"].values()) >= 1
    assert comparison["shipped"] == (not comparison["worse_classes"])
    assert Classifier.load(shipment).version == (staged.version if comparison["shipped"] else before)
    saved = json.loads((tmp_path / "run" / "comparison.json").read_text())
    assert saved == comparison
