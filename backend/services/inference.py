"""Micro-batching in front of the classifier: concurrent requests share one forward pass.

Requests preprocess their own photos in their worker threads (that work runs in parallel),
then hand 28×28 arrays to one batching thread. It takes every request already queued, up to
max_batch images, and then waits at most max_wait_ms for more, as Triton's and TorchServe's dynamic
batchers do. The default wait is 0 (backend.core.config): requests that arrive during a forward pass
share the next one anyway, and a request alone is not kept waiting.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future

import numpy as np

from ml import Classifier, Prediction


class InferenceEngine:
    def __init__(self, classifier: Classifier, max_batch: int = 32, max_wait_ms: float = 2.0,
                 metrics=None) -> None:
        self.classifier = classifier
        self.metrics = metrics
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self._queue: queue.Queue[tuple[np.ndarray, np.ndarray, Future] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="inference-batcher", daemon=True)
        self._thread.start()
        self.batches = 0
        self.images = 0
        self.model_seconds = 0.0

    def predict_arrays(self, arrays: np.ndarray, dataset_form: np.ndarray | None = None) -> list[Prediction]:
        """Blocking: uint8 [N,28,28] → N predictions, batched with whoever else is waiting.
        dataset_form marks the arrays whose image came in Fashion-MNIST form (see
        Classifier.predict_routed); by default all of them did, as for predict_arrays in ml."""
        if arrays.ndim != 3 or arrays.shape[1:] != (28, 28):
            raise ValueError(f"expected uint8 [N,28,28], got {list(arrays.shape)}")  # never poison a batch
        if len(arrays) == 0:
            return []
        flags = np.ones(len(arrays), dtype=bool) if dataset_form is None else np.asarray(dataset_form, dtype=bool)
        if flags.shape != (len(arrays),):
            raise ValueError("dataset_form needs one flag per array")
        future: Future = Future()
        if self.metrics is not None:  # counted before it can be taken, so the gauge never dips below 0
            self.metrics.queue_images.inc(len(arrays))
        self._queue.put((arrays, flags, future))
        return future.result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            pending = [item]
            count = len(item[0])
            deadline = time.perf_counter() + self.max_wait
            while count < self.max_batch:
                # whatever is queued comes along; past the deadline (at once, by default) no waiting
                remaining = deadline - time.perf_counter()
                try:
                    nxt = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                pending.append(nxt)
                count += len(nxt[0])
            if self.metrics is not None:
                self.metrics.queue_images.dec(count)
            self._run(pending)

    def _run(self, pending: list[tuple[np.ndarray, Future]]) -> None:
        try:
            started = time.perf_counter()
            answers = self.classifier.predict_routed(np.concatenate([arrays for arrays, _, _ in pending]),
                                                     np.concatenate([flags for _, flags, _ in pending]))
            elapsed = time.perf_counter() - started
        except Exception as exc:  # hand the failure to every waiting request
            for *_, future in pending:
                future.set_exception(exc)
            return
        self._observe(answers, elapsed)
        offset = 0
        for arrays, _, future in pending:
            future.set_result(answers[offset : offset + len(arrays)])
            offset += len(arrays)

    def _observe(self, answers: list[Prediction], elapsed: float) -> None:
        self.model_seconds += elapsed
        self.batches += 1
        self.images += len(answers)
        if self.metrics is not None:
            self.metrics.model_latency.observe(elapsed)
            self.metrics.batch_size.observe(len(answers))
            for answer in answers:
                self.metrics.predictions.labels(answer.label, str(answer.unsure).lower()).inc()
