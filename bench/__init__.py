"""Benchmarks: each prints its figures and writes them to bench/results/<name>.json."""

import os


def job_environment() -> dict[str, str]:
    """The ``ANEMOS_JOB_*`` settings the bench's job inherits, for the results file beside its command."""
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith("ANEMOS_JOB_")}
