"""The Dear PyGui editor, installed as ``afx_graph.ui``. The engine never imports this."""
