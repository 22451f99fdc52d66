"""Building small graphs in code for node tests (the same API the editor uses)."""
from afx_graph import Executor, Graph, Plan


def build(reg, nodes, links, *, frames=12, fps=10, size=(32, 24)):
    """nodes: {id: (type, params)}; links: [("src.port", "dst.port")]. Checked before return."""
    g = Graph(reg)
    g.settings = {"size": list(size), "fps": fps, "duration": frames / fps}
    for nid, (type_id, params) in nodes.items():
        g.add_node(type_id, nid, params=params)
    for src, dst in links:
        g.connect(*src.split("."), *dst.split("."))
    g.check()
    return g


def render(g, batch, ex=None, sink="sink"):
    """Render the whole graph in batches of `batch`; returns the sink node's instance."""
    ex = ex or Executor(g, device="cpu")
    ex.render(Plan(g), g.render_settings(), batch=batch)
    return ex.instance(sink)
