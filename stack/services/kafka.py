"""Apache Kafka 4.x in KRaft mode (one combined broker/controller) from Maven Central jars."""

from __future__ import annotations

import base64
import subprocess
import uuid
from typing import Any

from confluent_kafka.admin import AdminClient

from stack import install, process
from stack.errors import StartError
from stack.services.base import Service
from stack.settings import PROJECT_ROOT

LOG4J2 = """\
status = warn
appender.file.type = Console
appender.file.name = STDOUT
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


class Kafka(Service):
    name = "kafka"

    @property
    def lib(self):  # type: ignore[no-untyped-def]
        return self.s.path("jvm", "kafka", "lib")

    def ports(self) -> list[int]:
        return [self.s.kafka_port, self.s.kafka_controller_port]

    def install(self) -> None:
        install.maven_fetch(
            PROJECT_ROOT / "stack" / "jvm" / "kafka" / "pom.xml", "anemos.lib.dir", self.lib, "kafka-server-4.1.2.jar"
        )

    def _properties(self) -> str:
        s = self.s
        # transaction.max.timeout.ms: Flink's transactional Kafka sink defaults to a 1 h
        # transaction timeout, above the broker's 15 min default maximum.
        return "\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{s.host}:{s.kafka_controller_port}",
            f"listeners=PLAINTEXT://{s.host}:{s.kafka_port},CONTROLLER://{s.host}:{s.kafka_controller_port}",
            f"advertised.listeners=PLAINTEXT://{s.host}:{s.kafka_port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={self.data_dir / 'log'}",
            "num.partitions=4",
            "auto.create.topics.enable=false",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "transaction.max.timeout.ms=3600000",
            "group.initial.rebalance.delay.ms=0",
            "log.retention.hours=168",
            "",
        ])

    def _java_cmd(self, main: str, *args: str) -> list[str]:
        return [
            install.java(), f"-Xmx{self.s.kafka_heap}", f"-Xms{self.s.kafka_heap}", "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={self.s.path('conf', 'kafka-log4j2.properties')}",
            f"-Dkafka.logs.dir={self.s.path('logs')}",
            "-cp", f"{self.lib}/*", main, *args,
        ]

    def start(self) -> None:
        conf = self.s.path("conf")
        conf.mkdir(parents=True, exist_ok=True)
        props = conf / "kafka.properties"
        props.write_text(self._properties())
        (conf / "kafka-log4j2.properties").write_text(LOG4J2)
        if not (self.data_dir / "log" / "meta.properties").exists():
            cluster_id = self._cluster_id()
            result = subprocess.run(
                self._java_cmd("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props), "--ignore-formatted"),
                capture_output=True, text=True,
            )
            if result.returncode != 0:
                raise StartError(f"kafka storage format failed: {(result.stdout + result.stderr)[-800:]}")
        process.spawn(self.s.state_dir, self.name, self._java_cmd("kafka.Kafka", str(props)))

    def _cluster_id(self) -> str:
        """A base64url uuid without padding that does not start with '-' (Kafka's own Uuid.randomUuid rule:
        the storage tool's argument parser would take it for an option; a fresh CI install hit this)."""
        while True:
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            if not cluster_id.startswith("-"):
                return cluster_id

    def ready(self) -> bool:
        if not process.port_open(self.s.host, self.s.kafka_port):
            return False
        admin = AdminClient({"bootstrap.servers": self.s.kafka_bootstrap, "socket.timeout.ms": 2000, "log_level": 0})
        md = admin.list_topics(timeout=2)
        return len(md.brokers) >= 1

    def endpoints(self) -> dict[str, Any]:
        return {"bootstrap_servers": self.s.kafka_bootstrap}
