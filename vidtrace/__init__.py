"""vidtrace: segment-level video copy detection and retrieval.

Import submodules explicitly (``vidtrace.decode``, ``vidtrace.library`` ...);
this package module stays light so that ``import vidtrace`` is cheap.
"""

__version__ = "0.1.0"
