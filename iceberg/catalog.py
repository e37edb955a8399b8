"""Access to the JDBC catalog on Postgres that Flink (Java) and pyiceberg share."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError
from pyiceberg.table import Table

from iceberg.tables import TableDef

log = logging.getLogger(__name__)


def open_catalog(props: Mapping[str, str]) -> SqlCatalog:
    """pyiceberg's SqlCatalog over the same tables and catalog name as Flink's JdbcCatalog.

    ``props`` is the ``iceberg_catalog`` block of ``anemos stack status --json``.
    """
    return SqlCatalog(
        props["name"],
        uri=props["sqlalchemy_uri"],
        warehouse=props["warehouse"],
        **{k: v for k, v in props.items() if k.startswith("s3.")},
    )


def ensure_table(catalog: SqlCatalog, table: TableDef, identifier: str | None = None) -> Table:
    """Create ``table`` (as ``identifier`` if given) unless it exists; an existing one is left as it is."""
    identifier = identifier or table.identifier
    try:
        catalog.create_namespace(identifier.split(".")[0])
    except NamespaceAlreadyExistsError:
        pass
    try:
        return catalog.load_table(identifier)
    except NoSuchTableError:
        log.info("creating Iceberg table %s", identifier)
        return catalog.create_table(
            identifier,
            schema=table.schema,
            partition_spec=table.partition_spec,
            sort_order=table.sort_order,
            properties=table.properties,
        )


def committed_row_count(table: Table) -> int:
    """Rows in ``table``'s current snapshot, from its summary (no scan): 0 before the first commit."""
    snap = table.current_snapshot()
    return int(snap.summary.additional_properties.get("total-records", 0)) if snap and snap.summary else 0
