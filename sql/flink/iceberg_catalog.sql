-- The Iceberg JDBC catalog on Postgres, shared with pyiceberg (same catalog name and tables).
CREATE CATALOG ${catalog_name} WITH (
  'type' = 'iceberg',
  'catalog-impl' = 'org.apache.iceberg.jdbc.JdbcCatalog',
  'uri' = '${uri}',
  'jdbc.user' = '${jdbc_user}',
  'jdbc.password' = '${jdbc_password}',
  'warehouse' = '${warehouse}',
  'io-impl' = 'org.apache.iceberg.aws.s3.S3FileIO',
  's3.endpoint' = '${s3_endpoint}',
  's3.path-style-access' = 'true',
  's3.access-key-id' = '${s3_access_key_id}',
  's3.secret-access-key' = '${s3_secret_access_key}',
  'client.region' = '${s3_region}'
);
