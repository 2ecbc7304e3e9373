"""Settings for the web benchmarks: the product's own, with bench_urls.py's extra bare view."""

from __future__ import annotations

from cipdash.settings import *  # noqa: F403 (the product's settings, unchanged)

ROOT_URLCONF = "bench_urls"
