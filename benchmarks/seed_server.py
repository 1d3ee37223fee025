"""A rebuild of the published design, for comparison only: MobileNetV2 with 10 outputs (random
weights; speed does not depend on them), Grayscale→3, Resize(224), ToTensor, ImageNet Normalize,
and the forward pass inside the async handler, as the blog post's server did."""

import io

import torch
import torchvision
from fastapi import FastAPI, File, UploadFile
from PIL import Image
from torchvision import transforms

app = FastAPI()
model = torchvision.models.mobilenet_v2(num_classes=10).eval()
transform = transforms.Compose([
    transforms.Grayscale(num_output_channels=3), transforms.Resize(224), transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


@app.post("/fashion-mnist")
async def predict(file: UploadFile = File(...)):
    image = Image.open(io.BytesIO(await file.read())).convert("RGB")
    with torch.no_grad():
        probs = model(transform(image)[None]).softmax(1)[0].tolist()
    return {"label": LABELS[max(range(10), key=probs.__getitem__)], "probs": probs}
