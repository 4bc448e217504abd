"""The long-running processes keep the collector off what they loaded at start."""

import gc

from celery.signals import worker_process_init

import traceview.celery  # noqa: F401 - connects the worker's signals


def test_it_settles_the_collector_in_each_worker_process():
    threshold = gc.get_threshold()
    try:
        gc.unfreeze()
        gc.set_threshold(700, 10, 10)
        # What a prefork pool's child sends once it has started.
        worker_process_init.send(sender=None)
        assert gc.get_threshold() == (50_000, 20, 20)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
