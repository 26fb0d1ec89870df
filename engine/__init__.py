"""The PyFixMsg Plus FIX engine.

Layers, lowest first: ``codec`` (bytes <-> messages), ``dictionary`` (data
dictionaries and validation), then the session layer, stores, transports and
runtime built on top of them.
"""

__version__ = "0.1.0"
