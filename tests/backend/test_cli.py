"""The closetchat command line: evaluate (table, JSON, PNG) and predict (local and --url)."""

import json

import httpx
import pytest
from PIL import Image
from typer.testing import CliRunner

from backend.cli import app
from tests.conftest import fashion_png, free_port

runner = CliRunner()


@pytest.mark.slow  # training, the whole test set or a benchmark: CI runs it
def test_evaluate_prints_table_json_and_saves_png(tmp_path, classifier, fashion_test):
    png = tmp_path / "confusion.png"
    result = runner.invoke(app, ["evaluate", "--png", str(png)])
    assert result.exit_code == 0, result.output
    assert "true \\ pred" in result.output and "accuracy" in result.output
    assert Image.open(png).size[0] > 400
    result = runner.invoke(app, ["evaluate", "--json", "--png", str(png)])
    figures = json.loads(result.output)
    assert abs(figures["accuracy"] - classifier.card.figures["test_accuracy"]) <= 0.002
    assert len(figures["confusion"]) == 10 and sum(map(sum, figures["confusion"])) == 10000


def test_predict_local_files_as_json_lines(tmp_path, fashion_test):
    good = tmp_path / "boot.png"
    good.write_bytes(fashion_png(fashion_test, 0))
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    result = runner.invoke(app, ["predict", str(good), str(bad), str(tmp_path / "missing.jpg")])
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert lines[0]["label"] == "Ankle boot" and len(lines[0]["probs"]) == 10
    assert "error" in lines[1] and lines[2]["error"] == "no such file"


def _folder_of_photos(root, fashion_test, count: int):
    """count Fashion-MNIST test images in nested folders, and a note that is no image."""
    for i in range(count):
        folder = root / f"shelf{i % 3}" / ("deep" if i % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"img{i:02d}.png").write_bytes(fashion_png(fashion_test, i))
    (root / "shelf0" / "notes.txt").write_text("not a photo")
    return sorted(str(p) for p in root.rglob("*.png"))


def test_predict_walks_folders_and_says_by_its_exit_code_whether_all_were_answered(tmp_path, fashion_test):
    expected = _folder_of_photos(tmp_path / "photos", fashion_test, 20)
    result = runner.invoke(app, ["predict", str(tmp_path / "photos")])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == expected  # the text file is no image: not walked into
    assert all(line["label"] for line in lines)
    result = runner.invoke(app, ["predict", expected[0], str(tmp_path / "photos" / "shelf0" / "notes.txt")])
    assert result.exit_code == 1 and "error" in json.loads(result.stdout.splitlines()[1])


def test_predict_as_csv(tmp_path, fashion_test):
    import csv
    import io

    expected = _folder_of_photos(tmp_path / "photos", fashion_test, 3)
    note = str(tmp_path / "photos" / "shelf0" / "notes.txt")
    result = runner.invoke(app, ["predict", *expected, note, "--format", "csv"])
    assert result.exit_code == 1
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["path"] for r in rows] == [*expected, note] and all(r["label"] and not r["error"] for r in rows[:3])
    assert rows[3]["error"] and not rows[3]["label"]


def test_predict_with_a_wrong_url_says_so_without_a_traceback(tmp_path, fashion_test):
    photo = tmp_path / "boot.png"
    photo.write_bytes(fashion_png(fashion_test, 0))
    for url in (f"http://127.0.0.1:{free_port()}", "htp:/nowhere"):
        result = runner.invoke(app, ["predict", str(photo), "--url", url])
        assert result.exit_code == 2, result.output
        assert "closetchat predict: cannot reach" in result.stderr and "Traceback" not in result.output


@pytest.mark.slow
def test_predict_through_a_running_server(server, tmp_path, fashion_test):
    expected = _folder_of_photos(tmp_path / "photos", fashion_test, 20)

    def posts() -> float:
        metrics = httpx.get(server + "/metrics").text
        return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                   if line.startswith('closetchat_http_requests_total{method="POST",route="/api/v1/predictions"'))

    before = posts()
    result = runner.invoke(app, ["predict", str(tmp_path / "photos"), "--url", server])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == expected and all("id" in line for line in lines)
    assert next(line for line in lines if line["path"].endswith("img00.png"))["label"] == "Ankle boot"
    assert posts() - before == 2  # 20 files: a request of 16 and one of 4
    bad = tmp_path / "photos" / "shelf0" / "notes.txt"
    result = runner.invoke(app, ["predict", expected[0], str(bad), str(tmp_path / "gone.png"), "--url", server])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert "id" in lines[0] and lines[1]["status"] == 415 and lines[2]["error"] == "no such file"
    stored = httpx.get(server + "/api/v1/predictions").json()["total"]
    result = runner.invoke(app, ["predict", expected[0], "--url", server, "--no-store"])
    assert result.exit_code == 0 and json.loads(result.stdout)["kind"] == "classification"
    assert httpx.get(server + "/api/v1/predictions").json()["total"] == stored
    not_ours = runner.invoke(app, ["predict", expected[0], "--url", server + "/static"])
    assert not_ours.exit_code == 2 and "answered 405: not a ClosetChat answer" in not_ours.stderr
