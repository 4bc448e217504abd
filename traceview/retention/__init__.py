"""Retention: each project's invocations are kept for a period, then purged in bounded batches by a
beat task (purge.py); the project page says what is stored and when the next purge runs."""
