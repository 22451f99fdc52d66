"""The built-in node library, installed as ``afx_graph.nodes``: one module per family, each
listing its exports in ``NODES``."""
