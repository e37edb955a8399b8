"""The embedded local stack: Kafka, schema registry, S3, Postgres and Redis on loopback.

Every service is installed from a package registry by this package (Maven Central for
the JVM services, Debian for Postgres and Redis), keeps its data and log under one state
folder, and is stopped only by the pid this package recorded when it started it.
"""
