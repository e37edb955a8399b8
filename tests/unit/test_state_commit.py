"""flink_jobs.common.state_commit: a bundle's keyed state goes back to the JVM in one batch, the same writes
as PyFlink's own commit. PyFlink's real state backend over Beam's real caching state handler; only the JVM end
of the state channel is a stand-in, which records what is sent and when the operator waits (the real JVM end is
proven by the stream oracle tests on the real stack)."""

from __future__ import annotations

from typing import Any

import pytest
from apache_beam.coders import PickleCoder, StrUtf8Coder
from apache_beam.portability.api import beam_fn_api_pb2
from apache_beam.runners.worker.sdk_worker import GlobalCachingStateHandler, _Future
from apache_beam.runners.worker.statecache import StateCache
from pyflink.fn_execution.state_impl import RemoteKeyedStateBackend

from flink_jobs.common.state_commit import pipeline_commits


class _Answer(_Future):  # Beam's future of a state request, as the real channel returns it
    def __init__(self, log: list[tuple[str, ...]], what: str, error: str = "") -> None:
        super().__init__()
        self._log, self._what, self._error = log, what, error

    def wait(self, timeout: float | None = None) -> bool:
        return True

    def get(self, timeout: float | None = None) -> beam_fn_api_pb2.StateResponse:
        self._log.append(("wait", self._what))
        return beam_fn_api_pb2.StateResponse(error=self._error)


class _Jvm:
    """The JVM end of the state channel (Beam's StateHandler): keeps each key's bytes, logs every request
    as it is sent and every wait for its answer."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.log: list[tuple[str, ...]] = []
        self._stored: dict[bytes, bytes] = {}
        self._fail_on = fail_on

    def clear(self, state_key: beam_fn_api_pb2.StateKey) -> _Answer:
        key = state_key.bag_user_state.key
        self._stored.pop(key, None)
        self.log.append(("clear", key.decode()))
        return _Answer(self.log, f"clear {key.decode()}")

    def append_raw(self, state_key: beam_fn_api_pb2.StateKey, data: bytes) -> _Answer:
        key = state_key.bag_user_state.key
        self._stored[key] = self._stored.get(key, b"") + data
        self.log.append(("append", key.decode(), data.hex()))
        return _Answer(self.log, f"append {key.decode()}", "disk full" if key.decode() == self._fail_on else "")

    def get_raw(self, state_key: beam_fn_api_pb2.StateKey, continuation_token: bytes | None = None
                ) -> tuple[bytes, bytes | None]:
        return self._stored.get(state_key.bag_user_state.key, b""), None


def _backend(jvm: _Jvm) -> tuple[RemoteKeyedStateBackend, Any]:
    """PyFlink's keyed state backend over Beam's caching state handler, as a Python worker builds them."""
    handler = GlobalCachingStateHandler(StateCache(0), jvm)
    backend = RemoteKeyedStateBackend(handler, StrUtf8Coder(), None, 1000, 1000, 1000)
    return backend, backend.get_value_state("turbine", PickleCoder())


def _bundle(backend: RemoteKeyedStateBackend, state: Any, values: dict[str, str]) -> None:
    for key, value in values.items():
        backend.set_current_key(key)
        state.update(value)


def test_every_write_of_a_bundle_is_sent_before_the_first_wait_and_the_writes_are_pyflinks() -> None:
    values = {"T1": "a", "T2": "b", "T3": "c"}
    own = _Jvm()
    backend, state = _backend(own)
    _bundle(backend, state, values)
    backend.commit()
    assert [e[:2] for e in own.log[:3]] == [("clear", "T1"), ("append", "T1"), ("wait", "append T1")]  # a key a trip

    batched = _Jvm()
    backend, state = _backend(batched)
    assert pipeline_commits(backend)
    _bundle(backend, state, values)
    backend.commit()
    sends = [e for e in batched.log if e[0] != "wait"]
    assert sends == [e for e in own.log if e[0] != "wait"]  # the same writes, in the same order
    assert batched.log[:len(sends)] == sends  # all sent before the first wait
    assert len(batched.log) - len(sends) == 2 * len(values)  # and every answer waited for before commit returns

    batched.log.clear()
    backend.commit()  # nothing changed since: nothing is written again
    assert batched.log == []
    backend.set_current_key("T2")
    assert state.value() == "b"  # the operator still reads what it wrote


def test_a_write_the_jvm_refuses_fails_the_bundle() -> None:
    channel = _Jvm(fail_on="T2")
    backend, state = _backend(channel)
    pipeline_commits(backend)
    _bundle(backend, state, {"T1": "a", "T2": "b"})
    with pytest.raises(RuntimeError, match="disk full"):
        backend.commit()


def test_a_backend_that_is_not_pyflinks_keeps_its_own_commit(caplog: pytest.LogCaptureFixture) -> None:
    class Other:
        def commit(self) -> None:
            pass

    other = Other()
    assert not pipeline_commits(other)
    assert "commit" not in vars(other)
    assert "one key at a time" in caplog.text


def test_the_operators_own_batched_effects_run_after_the_sends_and_before_the_waits() -> None:
    jvm = _Jvm()
    backend, state = _backend(jvm)
    assert pipeline_commits(backend, on_bundle_end=lambda: jvm.log.append(("bundle end",)))
    _bundle(backend, state, {"T1": "a", "T2": "b"})
    backend.commit()
    at = jvm.log.index(("bundle end",))
    assert at == 4 and all(e[0] != "wait" for e in jvm.log[:at])  # 2 keys x (clear, append) sent
    assert [e[0] for e in jvm.log[at + 1:]] == ["wait"] * 4


def test_a_failing_effect_fails_the_bundle() -> None:
    def redis_down() -> None:
        raise ConnectionError("redis is down")

    backend, state = _backend(_Jvm())
    pipeline_commits(backend, on_bundle_end=redis_down)
    _bundle(backend, state, {"T1": "a"})
    with pytest.raises(ConnectionError, match="redis is down"):
        backend.commit()
