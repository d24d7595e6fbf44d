"""Pretrained networks for the optional deep frame features.

Nothing here is imported by the default (PDQ) pipeline. `weights` (the
registry, cache and downloader of weight files) and `cli` need only the
standard library; the network modules import torch and are imported on
demand by the extractors that use them.
"""
