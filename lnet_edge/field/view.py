"""What a field run tells its user as it happens (``RunView``): the CLI draws progress bars
from it; a library caller may pass its own, or none. Light to import: the CLI imports it at start."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lnet_edge.field.summary import SceneResult


class RunView:
    """What a run tells its user, as it happens; every method does nothing here."""

    def say(self, message: str) -> None:
        """A line of information (what the model's opening decided, where the dashboard is)."""

    def opened(self, warning: str | None, choice: str | None) -> None:
        """The model is open in this process: a warning about it, and what was chosen to run it."""

    def warn(self, message: str) -> None:
        """A note about a scene (no georeference, resampled, NaN pixels)."""

    def scene_started(self, scene: Path, tiles: int) -> None:
        """A scene starts in this process with ``tiles`` tiles."""

    def tiles_done(self, tiles: int) -> None:
        """``tiles`` more tiles of the current scene are done."""

    def cluster_started(self, scenes: int) -> None:
        """A cluster run of ``scenes`` scenes starts."""

    def cluster_tiles(self, counts: dict) -> None:
        """The cluster run's tiles: {"total": n, "done": n} (a retried task counted once)."""

    def scene_done(self, result: SceneResult) -> None:
        """A scene of a cluster run finished (done, skipped or failed)."""
