"""A Confluent-compatible schema registry backed by Postgres.

Why this exists: the architecture names Apicurio Registry 3.1.x, but no Apicurio 3.x
(nor Confluent Schema Registry, nor Karapace) can be assembled from the package
registries this project may use (the jars' parent poms and modules are missing from
Maven Central here; Confluent's repository and GitHub are out of reach). This server
speaks the subset of the Confluent REST API that confluent-kafka's SchemaRegistryClient
and Flink's avro-confluent format use, keeps schemas in Postgres, and checks Avro
compatibility with the Apache ``avro`` library's ReaderWriterCompatibilityChecker.
"""
