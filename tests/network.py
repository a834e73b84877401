"""A network namespace for tests that must prove they need no network."""

from __future__ import annotations

import shutil
import subprocess


def network_namespace() -> list[str] | None:
    """A command prefix that runs a program in a network namespace of its own (no
    interface but a loopback that is down), where this machine permits one."""
    if shutil.which("unshare") is None:
        return None
    for prefix in (["unshare", "--net"], ["unshare", "--map-root-user", "--net"]):
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=30).returncode == 0:
                return prefix
        except (OSError, subprocess.TimeoutExpired):
            pass
    return None


NO_NETWORK = network_namespace()
