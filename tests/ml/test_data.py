import gzip

import numpy as np
import pytest

from ml import data


def test_real_dataset_shapes_and_split(fashion_test):
    train = data.load_split("train")
    assert train.images.shape == (60000, 28, 28) and train.images.dtype == np.uint8
    assert fashion_test.images.shape == (10000, 28, 28)
    assert sorted(np.unique(train.labels)) == list(range(10))
    a, b = data.train_validation_split(train)
    assert (len(a), len(b)) == (54000, 6000)
    a2, b2 = data.train_validation_split(train)
    assert np.array_equal(b.labels, b2.labels) and np.array_equal(b.images, b2.images)  # fixed seed


def test_missing_dataset_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATASET_ENV, str(tmp_path))
    with pytest.raises(data.DatasetMissing, match="apt-get install -y dataset-fashion-mnist"):
        data.load_split("test")


def test_env_var_overrides_path_and_plain_idx_is_read(tmp_path, monkeypatch, fashion_test):
    # a folder with ungzipped copies of the real test files, found through the env var
    src = data.dataset_dir()
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / stem).write_bytes(gzip.decompress((src / f"{stem}.gz").read_bytes()))
    monkeypatch.setenv(data.DATASET_ENV, str(tmp_path))
    again = data.load_split("test")
    assert np.array_equal(again.images, fashion_test.images)


def test_corrupt_idx_is_refused(tmp_path):
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x03" + (5).to_bytes(4, "big") + b"\x00" * 10)
    with pytest.raises(ValueError):
        data.read_idx(bad)
