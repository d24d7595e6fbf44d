"""Training of the learned parts (needs the `train` extra: torch).

Each trainer module offers ``add_train_parser(train_subparsers)`` so that
``vidtrace train NAME ...`` can run it.
"""
