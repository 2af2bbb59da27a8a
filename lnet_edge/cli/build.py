"""lnet-edge build (placeholder until its stage lands)."""

from __future__ import annotations

from lnet_edge.cli.common import user_errors
from lnet_edge.errors import LnetError


@user_errors
def build_command() -> None:
    """Not available yet."""
    raise LnetError("'lnet-edge build' is not available in this version")
