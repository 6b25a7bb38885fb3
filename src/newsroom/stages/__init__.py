"""The pipeline's stages, one module each, every one an idempotent step over stored state (DESIGN §2, §3).

poll → (extract) → stories → write → illustrate → publish → translate → publish. ``job.py`` runs one story through
its stages; the in-process scheduler (``newsroom.pipeline``) and the worker both call it, and neither carries stage
logic of its own.
"""
