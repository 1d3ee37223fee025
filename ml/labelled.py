"""Labelled photos from outside the shared set: a History corrections zip, or a folder of class folders.

A corrections zip (History → "corrections.zip") holds `<class>/<id>.<ext>` and a labels.csv whose
`label` column names the class; a folder holds one subfolder per class, named as the class or as
the zip names it ("T-shirt-top", "Ankle_boot"). Photos are kept in memory (a zip) or read in place.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ml.labels import LABELS
from ml.preprocess import WORK_SIZE, open_image


@dataclass(frozen=True)
class LabelledImage:
    """A photo to train or judge on: where it is, how to name it, its right classes (none: an outlier)."""

    name: str
    classes: tuple[int, ...]
    path: Path | None = None
    content: bytes | None = None

    def open(self, draft_size: int = WORK_SIZE) -> Image.Image:
        return open_image(self.content if self.content is not None else self.path, draft_size=draft_size)

    @property
    def own_class(self) -> int:
        return self.classes[0] if self.classes else -1


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".heic", ".heif", ".bmp", ".tif", ".tiff")


def class_of_folder(name: str) -> int | None:
    """A class from a folder name as the zip writes it ("/" → "-", " " → "_") or as the class is spelt."""
    for index, label in enumerate(LABELS):
        if name in (label, label.replace("/", "-").replace(" ", "_"), label.replace("/", "-")):
            return index
    return None


def read_labelled(source: str | Path) -> list[LabelledImage]:
    source = Path(source)
    items = _from_zip(source) if source.is_file() else _from_folder(source)
    if not items:
        raise SystemExit(f"no labelled photos found in {source}: expected a corrections zip or class folders")
    return items


def _from_zip(path: Path) -> list[LabelledImage]:
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if "labels.csv" in names:
            rows = csv.DictReader(io.StringIO(archive.read("labels.csv").decode("utf-8")))
            pairs = [(row["file"], LABELS.index(row["label"])) for row in rows if row.get("label") in LABELS]
        else:
            pairs = [(n, class_of_folder(n.split("/")[0])) for n in sorted(names) if n.count("/") == 1]
        return [LabelledImage(f"{path.name}:{member}", (cls,), content=archive.read(member))
                for member, cls in pairs
                if cls is not None and member in names and member.lower().endswith(IMAGE_SUFFIXES)]


def _from_folder(root: Path) -> list[LabelledImage]:
    items = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        cls = class_of_folder(folder.name)
        if cls is None:
            continue
        items += [LabelledImage(f"{root.name}/{folder.name}/{f.name}", (cls,), path=f)
                  for f in sorted(folder.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    return items
