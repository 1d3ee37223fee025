"""Prometheus metrics: requests and latency by route, predictions by class, model latency.

Counted by a pure ASGI middleware labelled with the route template (never the raw path, so a
scan of random URLs cannot grow the label set). Each app gets its own registry (tests build many).
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("closetchat_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("closetchat_http_request_seconds", "HTTP request latency", ["method", "route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.predictions = Counter("closetchat_predictions_total", "Predictions by class", ["label", "unsure"],
                                   registry=self.registry)
        self.model_latency = Histogram("closetchat_model_batch_seconds", "Model forward pass time per batch",
                                       buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("closetchat_model_batch_size", "Images per forward pass",
                                    buckets=(1, 2, 4, 8, 16, 32, 64), registry=self.registry)
        self.model_info = Gauge("closetchat_model_info", "The model being served", ["version", "runtime"],
                                registry=self.registry)


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
