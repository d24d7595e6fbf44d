"""Error types. Every user-facing error names the file and the problem."""

from __future__ import annotations


class VidtraceError(Exception):
    """Base class of all errors vidtrace reports to users (no traceback)."""


class VideoError(VidtraceError):
    """A video file cannot be used: missing, empty, truncated, corrupt or not a video."""

    def __init__(self, path: str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class LibraryError(VidtraceError):
    """The library directory is missing, not a vidtrace library, or damaged."""


class ConfigError(VidtraceError):
    """A nonsense argument or configuration value."""


class ModelError(VidtraceError):
    """A model weight file is missing, unreadable or fails its checksum."""
