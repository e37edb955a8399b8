"""A StreamExecutionEnvironment configured from JobSettings: jars, checkpoints, state."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from pyflink.common import Configuration
from pyflink.datastream import CheckpointingMode, StreamExecutionEnvironment
from pyflink.table import EnvironmentSettings, StreamTableEnvironment

from flink_jobs.common.settings import JobSettings
from stack.process import alive
from stack.shortpath import short_alias
from stack.settings import PROJECT_ROOT


class JarsMissingError(RuntimeError):
    """The connector jars have not been resolved (run `anemos stack up`)."""


# on the JVM class path itself, not pipeline.jars: Flink loads org.apache.hadoop parent-first,
# and java.sql.DriverManager only hands a driver to callers whose class loader sees the same
# driver class, which fails when several Iceberg committers open the JDBC catalog at once
PARENT_FIRST = ("hadoop-client-", "postgresql-")


def _jars(settings: JobSettings) -> tuple[list[Path], list[Path]]:
    """(job jars, class-path jars)."""
    jars = sorted(settings.jars_dir.glob("*.jar"))
    if not jars:
        raise JarsMissingError(f"no jars in {settings.jars_dir}: run 'anemos stack up' to resolve flink_jobs/pom.xml")
    class_path = [j for j in jars if j.name.startswith(PARENT_FIRST)]
    return [j for j in jars if j not in class_path], class_path


def jar_urls(settings: JobSettings) -> str:
    return ";".join(j.resolve().as_uri() for j in _jars(settings)[0])


def hadoop_classpath(settings: JobSettings) -> str:
    return os.pathsep.join(str(j.resolve()) for j in _jars(settings)[1])


def process_tmp_dir(root: Path) -> Path:
    """This process's working directory under ``root`` (its mini-cluster's RocksDB instances and blobs).

    Flink removes its directories when it shuts down cleanly, but a killed job left them in /tmp, where the
    fault tests piled up gigabytes of them. Each process works in root/<pid>; the directories of processes
    that are gone are removed here."""
    root.mkdir(parents=True, exist_ok=True)
    for entry in root.iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid() and not alive(int(entry.name)):
            shutil.rmtree(entry, ignore_errors=True)
    mine = root / str(os.getpid())
    mine.mkdir(exist_ok=True)
    return mine


def create(settings: JobSettings) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    # read by PyFlink when it launches the JVM gateway (and so the local mini-cluster)
    os.environ["HADOOP_CLASSPATH"] = hadoop_classpath(settings)
    # AWS SDK v2 (2.30+) sends streaming trailer checksums by default, which S3-compatible
    # servers such as s3proxy reject ("x-amz-content-sha256 does not match"): only send
    # checksums where the S3 API requires them.
    os.environ.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "WHEN_REQUIRED")
    os.environ.setdefault("AWS_RESPONSE_CHECKSUM_VALIDATION", "WHEN_REQUIRED")
    # Python workers run as their own processes on the local mini-cluster too. PyFlink's default there is
    # 'loopback' (the workers are threads of this process), and a job restart then restored the Python keyed
    # operator into the same process, which failed ("A serializer has already been registered for the state").
    os.environ.setdefault("_python_worker_execution_mode", "process")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    conf = Configuration()
    conf.set_string("python.executable", sys.executable)
    conf.set_string("pipeline.name", settings.job_name)
    conf.set_string("pipeline.jars", jar_urls(settings))
    work = process_tmp_dir(settings.tmp_dir)
    conf.set_string("io.tmp.dirs", str(work))
    if "PYFLINK_GATEWAY_PORT" not in os.environ:
        # On the local mini-cluster only (under `flink run` the CLI's gateway sets that variable, and a job-level
        # local directory would override the TaskManagers' own): RocksDB works in the same directory by a short
        # path, because its log file names carry that path (see stack.shortpath).
        conf.set_string("state.backend.rocksdb.localdir", str(short_alias(settings.tmp_dir) / work.name))
        # the mini-cluster's slot: its default 128 MiB starved RocksDB's shared block cache (settings.managed_memory_mb)
        conf.set_string("taskmanager.memory.managed.size", f"{settings.managed_memory_mb}m")
    conf.set_string("state.backend.type", "rocksdb")
    conf.set_string("execution.checkpointing.incremental", "true")
    # Universal compaction, not RocksDB's leveled default. The msg_id dedupe adds a key per reading, spread at
    # random over the key space, and every checkpoint flushes the memtables into small level-0 files: leveled
    # compaction merged each few of them into all of level 1 again. Six minutes into a live run the dedupe's
    # compactions had written 23 times what it wrote, and RocksDB's threads took 0.44 cores (README, "RocksDB
    # compaction: universal"). A restore opens state written under either style (tests/faults/test_job_sigkill.py);
    # --flink-conf state.backend.rocksdb.compaction.style=LEVEL brings the leveled one back.
    conf.set_string("state.backend.rocksdb.compaction.style", "UNIVERSAL")
    conf.set_string("execution.checkpointing.dir", settings.checkpoint_dir.resolve().as_uri())
    conf.set_string("execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION")
    conf.set_string("execution.checkpointing.num-retained", "3")
    conf.set_string("execution.checkpointing.min-pause", str(settings.checkpoint_min_pause_ms))
    # 0 (the default): a failed checkpoint restarts the job from the last good one. N > 0 rides out N failures in
    # a row (a full disk) without a restart: nothing is committed meanwhile, and the next good checkpoint commits
    conf.set_string("execution.checkpointing.tolerable-failed-checkpoints", str(settings.tolerable_failed_checkpoints))
    # Restore at another parallelism: operators without a uid (the Iceberg committers that the SQL sink builds)
    # get a hash that covers their chain. At parallelism 1 the writers (max parallelism 128) chained to their
    # committers (max parallelism 1), so the committers' hashes, and their state, did not map across a rescale.
    conf.set_string("pipeline.operator-chaining.chain-operators-with-different-max-parallelism", "false")
    conf.set_string("pipeline.max-parallelism", "128")  # key groups fixed, whatever the parallelism
    conf.set_string("restart-strategy.type", "exponential-delay")
    # back-off capped, and reset after 2 stable minutes: one outage must not slow the next recovery
    conf.set_string("restart-strategy.exponential-delay.max-backoff", "20 s")
    conf.set_string("restart-strategy.exponential-delay.reset-backoff-threshold", "2 min")
    # Python keyed state is cached per slot; a cache smaller than the keys collapses throughput
    conf.set_string("python.state.cache-size", str(settings.python_state_cache))
    # the same for map state entries (default 1,000). The job keeps no MapState of its own now (the
    # rules hold one value per turbine), but an uncached map entry is a round trip to the JVM's RocksDB
    conf.set_string("python.map-state.read-cache-size", str(settings.python_state_cache))
    conf.set_string("python.map-state.write-cache-size", str(settings.python_state_cache))
    conf.set_string("python.fn-execution.bundle.time", "200")
    # Chained operators hand each row on as it is, not a deep copy. With copies, a Java Flight Recorder
    # profile of a drain had a quarter of the JVM's samples copying rows (and encoding their strings to UTF-8
    # to copy them) between the operators of one chain. Safe here: the SQL operators are written for reuse
    # (what they keep, they copy or serialize), and the Python operators and sinks serialize what they get.
    conf.set_string("pipeline.object-reuse", "true")
    # the Iceberg and Kafka jars are loaded child-first by the user class loader
    conf.set_string("classloader.check-leaked-classloader", "false")
    if settings.restore_from:
        conf.set_string("execution.state-recovery.path", settings.restore_from)
    for key, value in settings.flink_conf.items():
        conf.set_string(key, value)
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    env.set_parallelism(settings.parallelism)
    # without this PyFlink starts its workers with whatever `python` is first on PATH
    env.set_python_executable(sys.executable)
    env.enable_checkpointing(settings.checkpoint_interval_ms, CheckpointingMode.EXACTLY_ONCE)
    t_env = StreamTableEnvironment.create(env, EnvironmentSettings.in_streaming_mode())
    # a partition with no data this long no longer holds the watermark back; 0 ms turns idleness off
    t_env.get_config().set("table.exec.source.idle-timeout", f"{settings.idle_timeout_s * 1000} ms")
    # window bounds (TIMESTAMP) and instants (TIMESTAMP_LTZ) convert in UTC, whatever the host's zone
    t_env.get_config().set("table.local-time-zone", "UTC")
    # one aggregation phase: a local/global split only copies each window's percentile map
    # from one RocksDB state to another when the windows run in a single subtask per key group
    t_env.get_config().set("table.optimizer.agg-phase-strategy", "ONE_PHASE")
    # state of the SQL operators that keep it per key (the msg_id dedupe): forgotten after this
    t_env.get_config().set("table.exec.state.ttl", f"{settings.dedupe_ttl_ms} ms")
    return env, t_env
