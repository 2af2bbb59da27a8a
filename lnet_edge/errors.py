"""The one user-error class.

The CLI catches :class:`LnetError`, prints its message (which names the file or option and
says how to fix the problem) and exits non-zero without a traceback. Anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations


class LnetError(Exception):
    """A problem with the user's input, environment or options, with a fix in the message."""
