# ClosetChat for users elsewhere: CPU-only PyTorch wheels (as the seed system used), then the app.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    CLOSETCHAT_DATA_DIR=/data

WORKDIR /app
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.14.1 torchvision==0.29.1

COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY backend ./backend
COPY frontend ./frontend
COPY ml ./ml
RUN pip install .

RUN useradd --create-home --uid 1000 closetchat && mkdir -p /data && chown closetchat /data
USER closetchat
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
CMD ["closetchat", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
