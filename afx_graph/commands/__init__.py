"""One module per ``afx`` sub-command; each exposes ``register(subparsers)``."""
from . import info, validate

ALL = [validate.register, info.register_nodes, info.register_schema]
