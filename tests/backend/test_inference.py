"""Micro-batching: concurrent callers share forward passes and each gets its own answers."""

import threading
import time

import numpy as np

from backend.services.inference import InferenceEngine


def test_concurrent_requests_are_batched_and_answered_correctly(classifier, fashion_test):
    engine = InferenceEngine(classifier, max_batch=64, max_wait_ms=20)
    try:
        expected = classifier.predict_arrays(fashion_test.images[:40]).argmax(1)
        answers, threads = {}, []
        for i in range(40):
            t = threading.Thread(target=lambda i=i: answers.__setitem__(i, engine.predict_arrays(fashion_test.images[i:i + 1])))
            threads.append(t)
            t.start()
        [t.join() for t in threads]
        assert [answers[i][0].index for i in range(40)] == list(expected)
        assert engine.images == 40 and engine.batches < 40  # some requests shared a forward pass
    finally:
        engine.close()


def test_a_failing_batch_fails_its_callers_not_the_engine(classifier, fashion_test):
    engine = InferenceEngine(classifier, max_batch=8, max_wait_ms=1)
    try:
        bad = np.zeros((1, 32, 32), np.uint8)
        try:
            engine.predict_arrays(bad)
        except ValueError:
            pass
        else:
            raise AssertionError("a wrong shape must raise")
        assert engine.predict_arrays(fashion_test.images[:2])[0].label == "Ankle boot"
    finally:
        engine.close()


class _FirstPassHeld:
    """The real classifier, its first forward pass held until released: requests queue meanwhile."""

    def __init__(self, classifier) -> None:
        self._classifier = classifier
        self.started, self.release = threading.Event(), threading.Event()

    def predict_routed(self, arrays, dataset_form):
        if not self.started.is_set():
            self.started.set()
            assert self.release.wait(10)
        return self._classifier.predict_routed(arrays, dataset_form)


def test_with_no_wait_requests_queued_during_a_pass_share_the_next(classifier, fashion_test):
    held = _FirstPassHeld(classifier)
    engine = InferenceEngine(held, max_batch=64, max_wait_ms=0)
    expected = classifier.predict_arrays(fashion_test.images[:6]).argmax(1)
    answers = {}

    def ask(i):
        answers[i] = engine.predict_arrays(fashion_test.images[i:i + 1])[0].index

    try:
        threads = [threading.Thread(target=ask, args=(0,))]
        threads[0].start()
        assert held.started.wait(10)
        threads += [threading.Thread(target=ask, args=(i,)) for i in range(1, 6)]
        [t.start() for t in threads[1:]]
        deadline = time.monotonic() + 30
        while engine._queue.qsize() < 5:
            assert time.monotonic() < deadline, "the five requests never queued"
            time.sleep(0.005)
        held.release.set()
        [t.join() for t in threads]
        assert [answers[i] for i in range(6)] == list(expected)
        assert (engine.batches, engine.images) == (2, 6)  # the first alone, then the five together
    finally:
        engine.close()
