"""One module per ``afx`` sub-command; each exposes ``register(subparsers)``."""
from . import analyze, bench, edit, fit, gallery, info, models, run, validate

ALL = [run.register, edit.register, validate.register, info.register_nodes, info.register_schema,
       models.register, bench.register, gallery.register,
       analyze.register, fit.register]
from . import verify; ALL.append(verify.register)  # noqa: E402,E702 (a line of its own: commands are added side by side)
from . import pack; ALL.append(pack.register)  # noqa: E402,E702 (afx pack and afx unpack)
from . import extract; ALL.append(extract.register)  # noqa: E402,E702 (a line of its own: commands are added side by side)
from . import batch, sweep; ALL += [sweep.register, batch.register]  # noqa: E402,E702 (afx sweep, afx batch)
from . import examples; ALL.append(examples.register)  # noqa: E402,E702 (afx examples: the patches that ship with afx)
