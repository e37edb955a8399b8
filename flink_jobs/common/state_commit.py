"""Write a Python operator's changed keyed state back to the JVM in one pipelined batch per bundle.

At the end of every bundle (each ``python.fn-execution.bundle.time``, and at each checkpoint barrier)
PyFlink 2.0 commits each key's changed value state with a clear and an append request over the Beam
state channel, then waits for that key's answer before it sends the next key's: one round trip per
changed key, in sequence (``RemoteKeyedStateBackend.commit`` -> Beam's
``SynchronousBagRuntimeState.commit``, which calls ``to_await.get()`` per state). With 414 turbines
a bundle ends in 414 waits, and the operator, and a checkpoint barrier queued behind it, waits for them all.

``pipeline_commits`` replaces that commit on one operator's backend: it sends every changed state's
requests, then waits for all the answers at once. The requests travel on one ordered gRPC stream and
each names its own key, so the JVM applies the same writes in the same order; the bundle still ends
only after every write is acknowledged. An error answer fails the bundle (and Flink restores the task from
its last checkpoint), where PyFlink's own commit never looked at the answers. Only value
and list states (Beam bag states) are batched; any other cached state is committed as PyFlink does.
``on_bundle_end`` lets the operator send its own batched effects (the rules' Redis pipeline) at the same
moment, while the JVM answers.

The commit reads private attributes of apache-beam 2.61's ``SynchronousBagRuntimeState`` (the version
apache-flink 2.0.2 pins); ``pipeline_commits`` checks them first and leaves PyFlink's commit in
place, with a warning, when they are not there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_BAG_FIELDS = ("_state_handler", "_state_key", "_value_coder", "_cleared", "_added_elements")


def _send(bag: Any, pending: list[Any]) -> None:
    """Queue a bag state's writes (clear, then the added elements) without waiting; reset it for reuse."""
    if bag._cleared:
        pending.append(bag._state_handler.clear(bag._state_key))
    if bag._added_elements:
        pending.append(bag._state_handler.extend(bag._state_key, bag._value_coder.get_impl(), bag._added_elements))
    bag._cleared = False
    bag._added_elements = []


def _wait(pending: list[Any]) -> None:
    errors = [r.error for r in (f.get() for f in pending) if r is not None and r.error]
    if errors:
        raise RuntimeError("writing keyed state back to the JVM failed: " + "; ".join(errors))


def pipeline_commits(backend: Any, on_bundle_end: Callable[[], None] | None = None) -> bool:
    """Make ``backend`` (a PyFlink ``RemoteKeyedStateBackend``) commit a bundle's states in one batch, and call
    ``on_bundle_end`` while the JVM answers: an operator's own batched effects, done before the bundle (and a
    checkpoint barrier behind it) completes, and failing it if they fail.
    True when it does; False (PyFlink's own commit kept, ``on_bundle_end`` never called) when this PyFlink or
    Beam does not look as expected."""
    from apache_beam.runners.worker.bundle_processor import SynchronousBagRuntimeState

    if not all(hasattr(backend, a) for a in ("commit", "commit_internal_state", "_internal_state_cache", "_all_states")):
        log.warning("keyed state backend %r is not PyFlink 2.0's: state commits stay one key at a time", backend)
        return False
    probe = SynchronousBagRuntimeState(None, None, None)  # type: ignore[arg-type]
    if not all(hasattr(probe, f) for f in _BAG_FIELDS):
        log.warning("apache-beam's bag state has changed: state commits stay one key at a time")
        return False

    def commit_one(internal: Any, pending: list[Any]) -> None:
        if isinstance(internal, SynchronousBagRuntimeState):
            _send(internal, pending)
        elif internal is not None:
            backend.commit_internal_state(internal)

    def commit() -> None:
        # as RemoteKeyedStateBackend.commit: every cached key's states, then the current key's if not cached
        pending: list[Any] = []
        cache = backend._internal_state_cache
        for internal in cache:
            commit_one(internal, pending)
        key = backend._encoded_current_key
        for name, state in backend._all_states.items():
            if (name, key, backend._encode_namespace(state.namespace)) not in cache:
                commit_one(state._internal_state, pending)
        if on_bundle_end is not None:
            on_bundle_end()
        _wait(pending)

    backend.commit = commit
    log.info("keyed state commits pipelined: one batch of writes per bundle")
    return True
