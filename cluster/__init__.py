"""A standalone Flink cluster from the distribution bundled in apache-flink: one JobManager, N TaskManagers.

The jobs run here the way they run in production (``flink run``, RocksDB, externalized checkpoints,
a restart strategy), so a TaskManager kill is a real process kill and a real failover.
"""

MAX_TASKMANAGERS = 8  # `anemos cluster up --taskmanagers` allows 1 to 8; `stack down` looks for as many
