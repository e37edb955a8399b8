"""The pure domain core: records, identities, validation. No pyflink or pyspark import."""
