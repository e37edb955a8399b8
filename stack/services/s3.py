"""s3proxy: a real S3-protocol server over a filesystem blob store."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from stack import install, process
from stack.services.base import Service
from stack.settings import PROJECT_ROOT


class S3(Service):
    name = "s3"

    @property
    def lib(self):  # type: ignore[no-untyped-def]
        return self.s.path("jvm", "s3proxy")

    def ports(self) -> list[int]:
        return [self.s.s3_port]

    def install(self) -> None:
        install.maven_fetch(PROJECT_ROOT / "stack" / "jvm" / "s3proxy" / "pom.xml", "anemos.lib.dir", self.lib, "s3proxy.jar")

    def start(self) -> None:
        blobs = self.data_dir / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        conf = self.s.path("conf")
        conf.mkdir(parents=True, exist_ok=True)
        props = conf / "s3proxy.properties"
        props.write_text("\n".join([
            f"s3proxy.endpoint=http://{self.s.host}:{self.s.s3_port}",
            "s3proxy.authorization=aws-v2-or-v4",
            f"s3proxy.identity={self.s.s3_access_key}",
            f"s3proxy.credential={self.s.s3_secret_key.get_secret_value()}",
            "s3proxy.ignore-unknown-headers=true",
            "jclouds.provider=filesystem",
            f"jclouds.filesystem.basedir={blobs}",
            "",
        ]))
        argv = [install.java(), f"-Xmx{self.s.s3_heap}", "-jar", str(self.lib / "s3proxy.jar"), "--properties", str(props)]
        process.spawn(self.s.state_dir, self.name, argv)

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3", endpoint_url=self.s.s3_endpoint, aws_access_key_id=self.s.s3_access_key,
            aws_secret_access_key=self.s.s3_secret_key.get_secret_value(), region_name=self.s.s3_region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}, connect_timeout=2, read_timeout=5),
        )

    def ready(self) -> bool:
        self.client().list_buckets()
        return True

    def after_start(self) -> None:
        c = self.client()
        try:
            c.head_bucket(Bucket=self.s.s3_bucket)
        except ClientError:
            c.create_bucket(Bucket=self.s.s3_bucket)

    def endpoints(self) -> dict[str, Any]:
        return {
            "endpoint": self.s.s3_endpoint,
            "access_key_id": self.s.s3_access_key,
            "secret_access_key": self.s.s3_secret_key.get_secret_value(),
            "bucket": self.s.s3_bucket,
            "region": self.s.s3_region,
            "path_style_access": True,
        }
