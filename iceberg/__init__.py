"""Iceberg tables as code: schemas derived from the canonical Avro, partitioning, catalog access."""
