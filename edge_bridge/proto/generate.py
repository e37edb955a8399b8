"""Regenerate the Python code for edge_bridge/proto/*.proto (python -m edge_bridge.proto.generate)."""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ["edge_bridge/proto/ingest.proto", "edge_bridge/proto/control.proto"]


def generate(out_dir: Path = ROOT) -> int:
    """Run protoc with the proto path at the project root, so imports are package-absolute."""
    args = ["protoc", f"-I{ROOT}", f"--python_out={out_dir}", f"--pyi_out={out_dir}", f"--grpc_python_out={out_dir}", *PROTOS]
    return protoc.main(args)


if __name__ == "__main__":
    sys.exit(generate())
