"""Frame descriptor extractors (a family with a registry by name)."""

from vidtrace.features.base import FEATURES, FrameExtractor, get_extractor, register_extractor

__all__ = ["FEATURES", "FrameExtractor", "get_extractor", "register_extractor"]
