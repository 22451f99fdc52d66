"""Evaluating a graph: the plan, the executor, memory estimates and the torch device."""
