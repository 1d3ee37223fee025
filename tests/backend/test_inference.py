"""Micro-batching: concurrent callers share forward passes and each gets its own answers."""

import threading

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
