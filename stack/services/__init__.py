"""One module per local service; each exposes a Service subclass."""

from stack.services.base import Service
from stack.services.kafka import Kafka
from stack.services.postgres import Postgres
from stack.services.redis import Redis
from stack.services.registry import SchemaRegistry
from stack.services.s3 import S3

# start order: the registry keeps its schemas in Postgres
ALL: tuple[type[Service], ...] = (Postgres, Redis, S3, Kafka, SchemaRegistry)

__all__ = ["ALL", "Kafka", "Postgres", "Redis", "S3", "SchemaRegistry", "Service"]
