"""Media I/O and file safety: decoding audio, writing video and PNG, the one safe file writer,
scratch folders and the paths a patch names. Below the patch file and the graph: it knows
nothing of either."""
