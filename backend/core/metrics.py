"""Prometheus metrics: requests and latency by route, predictions by class, model latency.

Counted by a pure ASGI middleware labelled with the route template (never the raw path, so a
scan of random URLs cannot grow the label set). Each app gets its own registry (tests build many).

With several worker processes each would count only what it answered, and a scrape reaches one of
them: so `closetchat serve --workers N` sets PROMETHEUS_MULTIPROC_DIR (backend/core/serving.py) and
prometheus_client's multiprocess mode keeps every worker's values in files there, which a scrape of
any worker adds up. Process metrics (CPU, memory, open files) come per worker, labelled by pid.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.process_collector import ProcessCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("closetchat_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("closetchat_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.predictions = Counter("closetchat_predictions_total", "Predictions by class", ["label", "unsure"],
                                   registry=self.registry)
        self.model_latency = Histogram("closetchat_model_batch_seconds", "Model forward pass time per batch",
                                       buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("closetchat_model_batch_size", "Images per forward pass",
                                    buckets=(1, 2, 4, 8, 16, 32, 64), registry=self.registry)
        # images handed to the batcher and not yet in a forward pass: how far the model is behind
        self.queue_images = Gauge("closetchat_model_queue_images", "Images waiting for the model",
                                  registry=self.registry, multiprocess_mode="livesum")
        self.model_info = Gauge("closetchat_model_info", "The model being served", ["version", "runtime"],
                                registry=self.registry, multiprocess_mode="max")
        if not multiprocess_dir():
            ProcessCollector(registry=self.registry)

    def exposition(self) -> bytes:
        """The text a scrape gets: this process's registry, or in multiprocess mode every worker's."""
        folder = multiprocess_dir()
        if not folder:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=folder)
        registry.register(WorkerProcesses(folder))
        return generate_latest(registry)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


class WorkerProcesses:
    """process_* metrics of every live worker (their pids from the multiprocess files' names), each
    sample labelled with its pid: a ProcessCollector alone describes only the worker scraped."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def collect(self):
        pids = sorted({name.stem.rsplit("_", 1)[-1] for name in self.folder.glob("*.db")})
        families: dict[str, Metric] = {}
        for pid in pids:
            if not pid.isdigit() or not Path(f"/proc/{pid}").exists():
                continue
            for family in ProcessCollector(pid=lambda pid=pid: pid, registry=None).collect():
                merged = families.setdefault(family.name, Metric(family.name, family.documentation, family.type))
                for sample in family.samples:
                    merged.add_sample(sample.name, {**sample.labels, "pid": pid}, sample.value)
        yield from families.values()


class MetricsMiddleware:
    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_capturing(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_capturing)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or ("/static" if scope["path"].startswith("/static") else "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status["code"])).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
