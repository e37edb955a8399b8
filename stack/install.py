"""Install what a service needs from the registries this project may use."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from stack.errors import InstallError
from stack.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

_apt_updated = False


def apt_install(binary: str, package: str) -> None:
    """Install Debian ``package`` unless ``binary`` is already on PATH."""
    global _apt_updated
    if shutil.which(binary):
        return
    if os.geteuid() != 0:
        raise InstallError(f"{binary} is missing and installing {package} needs root: run 'sudo apt-get install {package}'")
    log.info("installing %s from Debian packages", package)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        if not _apt_updated:
            subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
            _apt_updated = True
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env, capture_output=True)
    except subprocess.CalledProcessError as err:
        msg = f"apt-get install {package} failed: {err.stderr.decode(errors='replace')[-500:]}"
        raise InstallError(msg) from err
    if not shutil.which(binary):
        raise InstallError(f"{package} installed but {binary} is still not on PATH")


def java() -> str:
    """The java binary (JAVA_HOME first), checked to be version 17 or newer."""
    home = os.environ.get("JAVA_HOME")
    path = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not path or not Path(path).exists():
        apt_install("java", "openjdk-17-jre-headless")
        path = shutil.which("java")
    assert path is not None
    return path


def maven_fetch(pom: Path, prop: str, dest: Path, marker: str) -> None:
    """Let Maven resolve ``pom`` into ``dest`` unless ``dest/marker`` is already there."""
    if (dest / marker).exists():
        return
    apt_install("mvn", "maven")
    dest.mkdir(parents=True, exist_ok=True)
    log.info("resolving %s from Maven Central into %s", pom.relative_to(PROJECT_ROOT), dest)
    cmd = ["mvn", "-B", "-q", "-f", str(pom), "package", f"-D{prop}={dest}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not (dest / marker).exists():
        tail = (result.stdout + result.stderr)[-1500:]
        raise InstallError(f"Maven could not resolve {pom.name} into {dest}: {tail}")
