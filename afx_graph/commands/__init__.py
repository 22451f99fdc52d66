"""One module per ``afx`` sub-command; each exposes ``register(subparsers)``."""
from . import bench, gallery, info, run, validate

ALL = [run.register, validate.register, info.register_nodes, info.register_schema,
       bench.register, gallery.register]
