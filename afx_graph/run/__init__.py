"""Rendering: a graph to files (``render``), in chunks with pre-roll (``chunks``), as jobs on
workers (``jobs``) and driven over Ray or local processes (``drive``)."""
