"""The ``fixplus`` command line: wiring only (``run``, ``demo``, ``store``,
``auth``, the acceptance-test commands); :mod:`.main` is the entry point."""
