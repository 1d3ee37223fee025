"""The closetchat command line: evaluate (table, JSON, PNG) and predict (local and --url)."""

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from backend.cli import app
from tests.conftest import fashion_png

runner = CliRunner()


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


@pytest.mark.slow
def test_predict_through_a_running_server(server, tmp_path, fashion_test):
    good = tmp_path / "boot.png"
    good.write_bytes(fashion_png(fashion_test, 0))
    result = runner.invoke(app, ["predict", str(good), "--url", server])
    line = json.loads(result.output.strip().splitlines()[0])
    assert line["label"] == "Ankle boot" and "id" in line
