"""ClosetChat's machine-learning package: data, model, training and the inference API."""
from ml.labels import LABELS

__all__ = ["LABELS"]
