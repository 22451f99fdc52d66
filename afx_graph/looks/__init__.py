"""Fitted looks: the field fitted to pictures (``fitted``) and the fit pipeline (``fit``)."""
