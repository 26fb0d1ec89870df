"""The PyFixMsg Plus Kubernetes operator (kopf).

It depends on the engine only through ``pyfixmsg_plus.engine.config``.
"""
