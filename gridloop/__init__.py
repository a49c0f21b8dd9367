"""Gridloop: the engine (gridloop.engine), the web app (gridloop.web), the command line
(gridloop.cli) and the shipped process files (gridloop.workflows), installed under one name."""
