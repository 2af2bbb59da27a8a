"""lnet-edge calibrate (placeholder until its stage lands)."""

from __future__ import annotations

from lnet_edge.cli.common import user_errors
from lnet_edge.errors import LnetError


@user_errors
def calibrate_command() -> None:
    """Not available yet."""
    raise LnetError("'lnet-edge calibrate' is not available in this version")
