"""ClosetChat's machine-learning package: data, model, training and the inference API.

Public names: Classifier, Prediction, SURE_CONFIDENCE, certainty, LABELS, UnreadableImage, open_image, to_fashion_mnist,
is_fashion_mnist_form, flatten_to_rgb.
"""

from ml.classifier import SURE_CONFIDENCE, Classifier, Prediction, certainty
from ml.errors import UnreadableImage
from ml.labels import LABELS
from ml.preprocess import WORK_SIZE, flatten_to_rgb, is_fashion_mnist_form, open_image, to_fashion_mnist

__all__ = ["Classifier", "Prediction", "SURE_CONFIDENCE", "certainty", "LABELS", "UnreadableImage", "flatten_to_rgb", "open_image", "to_fashion_mnist",
           "is_fashion_mnist_form", "WORK_SIZE"]
