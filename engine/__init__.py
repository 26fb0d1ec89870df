"""The PyFixMsg Plus FIX engine.

Layers, lowest first (the import contracts of ``pyproject.toml``):
``errors`` (the error root), ``codec`` (bytes <-> messages, FIX versions),
``config`` (typed settings and their loaders), ``dictionary`` (data
dictionaries and validation), ``session`` (the sans-IO state machine), then
``application`` and ``store``, ``transport``, ``observability`` (metrics,
tracing, logs, probes), ``runtime`` (the engine owning them all),
``scripttest`` and ``cli`` on top.
"""

__version__ = "0.1.0"
