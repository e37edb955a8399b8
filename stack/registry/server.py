"""HTTP front of the registry: the Confluent Schema Registry REST API (the subset in use).

Routes (all JSON, content type application/vnd.schemaregistry.v1+json):
  GET  /subjects                               GET  /schemas/ids/{id}
  POST /subjects/{s}/versions                  GET  /subjects/{s}/versions
  GET  /subjects/{s}/versions/{v|latest}       POST /subjects/{s}            (lookup)
  DELETE /subjects/{s}                         GET|PUT /config[/{s}]
  POST /compatibility/subjects/{s}/versions/{v|latest}
Every route is also served under /apis/ccompat/v7, the prefix Apicurio uses, so clients
configured for either work unchanged.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sys
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import avro.errors
import avro.schema

from stack.registry.compat import Level, check
from stack.registry.store import Store, fingerprint

log = logging.getLogger("anemos.registry")

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
PREFIX = "/apis/ccompat/v7"


class ApiError(Exception):
    """An error answered with Confluent's {error_code, message} body."""

    def __init__(self, status: HTTPStatus, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _not_found(code: int, what: str) -> ApiError:
    return ApiError(HTTPStatus.NOT_FOUND, code, what)


def _parse_avro(text: str) -> None:
    try:
        avro.schema.parse(text)
    except (avro.errors.SchemaParseException, json.JSONDecodeError, TypeError) as err:
        raise ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, 42201, f"Invalid schema: {err}") from err


class Registry:
    """Request handling, independent of the HTTP plumbing."""

    def __init__(self, store: Store) -> None:
        self.store = store
        s = r"(?P<s>[^/]+)"
        v = r"(?P<v>latest|-1|\d+)"
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
            ("GET", re.compile(r"^/subjects/?$"), self.list_subjects),
            ("GET", re.compile(r"^/schemas/ids/(?P<id>\d+)/?$"), self.get_schema),
            ("GET", re.compile(r"^/schemas/ids/(?P<id>\d+)/schema/?$"), self.get_raw_schema),
            ("POST", re.compile(rf"^/subjects/{s}/versions/?$"), self.register),
            ("GET", re.compile(rf"^/subjects/{s}/versions/?$"), self.list_versions),
            ("GET", re.compile(rf"^/subjects/{s}/versions/{v}/?$"), self.get_version),
            ("GET", re.compile(rf"^/subjects/{s}/versions/{v}/schema/?$"), self.get_version_schema),
            ("POST", re.compile(rf"^/subjects/{s}/?$"), self.lookup),
            ("DELETE", re.compile(rf"^/subjects/{s}/?$"), self.delete_subject),
            ("GET", re.compile(r"^/config/?$"), self.get_config),
            ("PUT", re.compile(r"^/config/?$"), self.put_config),
            ("GET", re.compile(rf"^/config/{s}/?$"), self.get_config),
            ("PUT", re.compile(rf"^/config/{s}/?$"), self.put_config),
            ("POST", re.compile(rf"^/compatibility/subjects/{s}/versions/{v}/?$"), self.test_compat),
            ("POST", re.compile(rf"^/compatibility/subjects/{s}/versions/?$"), self.test_compat),
            ("GET", re.compile(r"^/?$"), lambda body, **_: {}),
        ]

    def dispatch(self, method: str, path: str, body: Any) -> tuple[HTTPStatus, Any]:
        if path.startswith(PREFIX):
            path = path[len(PREFIX):] or "/"
        path = path.split("?", 1)[0]
        for verb, pattern, handler in self.routes:
            m = pattern.match(path)
            if m and verb == method:
                args = {k: unquote(val) for k, val in m.groupdict().items()}
                return HTTPStatus.OK, handler(body, **args)
        raise ApiError(HTTPStatus.NOT_FOUND, 404, f"no route for {method} {path}")

    # -- schemas and subjects -------------------------------------------------------
    def list_subjects(self, body: Any) -> list[str]:
        return self.store.subjects()

    def get_schema(self, body: Any, id: str) -> dict[str, Any]:
        text = self.store.schema_by_id(int(id))
        if text is None:
            raise _not_found(40403, f"Schema {id} not found")
        return {"schema": text}

    def get_raw_schema(self, body: Any, id: str) -> Any:
        return json.loads(self.get_schema(body, id)["schema"])

    def _schema_from(self, body: Any) -> str:
        if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
            raise ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, 42201, "Invalid schema: body needs a 'schema' string")
        kind = body.get("schemaType", "AVRO")
        if kind != "AVRO":
            raise ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, 42201, f"Invalid schema: type {kind} is not supported")
        if body.get("references"):
            raise ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, 42201, "Invalid schema: references are not supported")
        _parse_avro(body["schema"])
        return str(body["schema"])

    def _checker(self, subject: str, new: str, existing: list[str]) -> list[str]:
        return check(self.store.level(subject), new, existing)

    def register(self, body: Any, s: str) -> dict[str, int]:
        text = self._schema_from(body)
        schema_id, problems = self.store.register(s, text, self._checker)
        if problems:
            level = self.store.level(s).value
            raise ApiError(
                HTTPStatus.CONFLICT, 409,
                f"Schema being registered is incompatible with an earlier schema for subject {s} "
                f"({level}): " + " | ".join(problems),
            )
        log.info("registered schema id %d under %s", schema_id, s)
        return {"id": schema_id}

    def list_versions(self, body: Any, s: str) -> list[int]:
        versions = self.store.versions(s)
        if not versions:
            raise _not_found(40401, f"Subject '{s}' not found.")
        return [v.version for v in versions]

    def _version(self, s: str, v: str) -> dict[str, Any]:
        versions = self.store.versions(s)
        if not versions:
            raise _not_found(40401, f"Subject '{s}' not found.")
        if v in ("latest", "-1"):
            found = versions[-1]
        else:
            match = [x for x in versions if x.version == int(v)]
            if not match:
                raise _not_found(40402, f"Version {v} not found.")
            found = match[0]
        return {"subject": s, "version": found.version, "id": found.schema_id, "schema": found.schema}

    def get_version(self, body: Any, s: str, v: str) -> dict[str, Any]:
        return self._version(s, v)

    def get_version_schema(self, body: Any, s: str, v: str) -> Any:
        return json.loads(self._version(s, v)["schema"])

    def lookup(self, body: Any, s: str) -> dict[str, Any]:
        text = self._schema_from(body)
        versions = self.store.versions(s)
        if not versions:
            raise _not_found(40401, f"Subject '{s}' not found.")
        fp = fingerprint(text)
        for v in versions:
            if fingerprint(v.schema) == fp:
                return {"subject": s, "version": v.version, "id": v.schema_id, "schema": v.schema}
        raise _not_found(40403, "Schema not found")

    def delete_subject(self, body: Any, s: str) -> list[int]:
        deleted = self.store.delete_subject(s)
        if not deleted:
            raise _not_found(40401, f"Subject '{s}' not found.")
        return deleted

    # -- compatibility ----------------------------------------------------------------
    def get_config(self, body: Any, s: str | None = None) -> dict[str, str]:
        if s is not None:
            level = self.store.subject_level(s)
            if level is None:
                raise _not_found(40408, f"Subject '{s}' does not have subject-level compatibility configured")
            return {"compatibilityLevel": level.value}
        return {"compatibilityLevel": self.store.level(None).value}

    def put_config(self, body: Any, s: str | None = None) -> dict[str, str]:
        raw = body.get("compatibility") if isinstance(body, dict) else None
        try:
            level = Level(str(raw).upper())
        except ValueError as err:
            raise ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, 42203, f"Invalid compatibility level: {raw}") from err
        self.store.set_level(s, level)
        log.info("compatibility of %s set to %s", s or "<global>", level.value)
        return {"compatibility": level.value}

    def test_compat(self, body: Any, s: str, v: str = "latest") -> dict[str, Any]:
        text = self._schema_from(body)
        versions, level = self.store.versions(s), self.store.level(s)
        if v not in ("latest", "-1") and level in (Level.BACKWARD, Level.FORWARD, Level.FULL):
            versions = [x for x in versions if x.version == int(v)]
        problems = check(level, text, [x.schema for x in versions])
        return {"is_compatible": not problems, "messages": problems}


def make_handler(registry: Registry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError as err:
                    raise ApiError(HTTPStatus.BAD_REQUEST, 400, f"body is not JSON: {err}") from err
                status, payload = registry.dispatch(method, self.path, body)
            except ApiError as err:
                status, payload = err.status, {"error_code": err.code, "message": err.message}
            except Exception as err:  # noqa: BLE001 - answer 500 and keep serving
                log.exception("request %s %s failed", method, self.path)
                status, payload = HTTPStatus.INTERNAL_SERVER_ERROR, {"error_code": 50001, "message": str(err)}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def do_PUT(self) -> None:  # noqa: N802
            self._serve("PUT")

        def do_DELETE(self) -> None:  # noqa: N802
            self._serve("DELETE")

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug("%s " + fmt, self.address_string(), *args)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.registry.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18081)
    parser.add_argument("--dsn", required=True, help="Postgres DSN that holds the registry tables")
    parser.add_argument("--default-compatibility", default="BACKWARD_TRANSITIVE", choices=[x.value for x in Level])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = Store(args.dsn, Level(args.default_compatibility))
    server = ThreadingHTTPServer((args.host, args.port), make_handler(Registry(store)))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    log.info("schema registry listening on http://%s:%d (also under %s)", args.host, args.port, PREFIX)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        store.close()
        log.info("schema registry stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
