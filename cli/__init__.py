"""The ``gridloop`` command line."""
