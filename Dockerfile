# ClosetChat, serve-only: ONNX Runtime answers, no torch in the image. Build the wheel in one stage,
# install it in the next at the versions requirements.lock pins, run as a non-root user, data in /data.
# boto3 (the s3 extra, pinned by the lock too) keeps photos in a bucket when CLOSETCHAT_STORAGE_URL says so.
#   docker build -t closetchat . && docker run -p 8000:8000 -v closetchat:/data closetchat
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY backend ./backend
COPY ml ./ml
COPY frontend ./frontend
COPY alembic ./alembic
RUN pip wheel --no-cache-dir --no-deps -w /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CLOSETCHAT_DATA_DIR=/data \
    PROMETHEUS_MULTIPROC_DIR=/tmp/closetchat-metrics
COPY --from=build /wheels /wheels
COPY requirements.lock /wheels/
RUN pip install -c /wheels/requirements.lock /wheels/*.whl boto3 && rm -rf /wheels \
    && useradd --create-home --uid 1000 closetchat && mkdir -p /data && chown closetchat /data
USER closetchat
WORKDIR /home/closetchat
VOLUME ["/data"]
EXPOSE 8000
# liveness: /healthz answers while the process serves; /readyz (model and database) is for the balancer.
# start-period covers migrations and model loading on a slow first start.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
# 2 workers; one that cannot start makes the server exit 1 (see the logs), and the restart policy applies
CMD ["closetchat", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
