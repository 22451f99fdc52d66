"""One module per ``afx`` sub-command; each exposes ``register(subparsers)``."""
from afx_graph.commands import analyze, bench, edit, fit, gallery, info, models, run, validate

ALL = [run.register, edit.register, validate.register, info.register_nodes, info.register_schema,
       models.register, bench.register, gallery.register,
       analyze.register, fit.register]
from afx_graph.commands import verify  # noqa: E402,E702 (a line of its own: commands are added side by side)
from afx_graph.commands import pack  # noqa: E402,E702 (afx pack and afx unpack)
from afx_graph.commands import extract  # noqa: E402,E702 (a line of its own: commands are added side by side)
from afx_graph.commands import batch, sweep  # noqa: E402,E702 (afx sweep, afx batch)
from afx_graph.commands import examples  # noqa: E402,E702 (afx examples: the patches that ship with afx)
