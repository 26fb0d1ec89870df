"""FIX data dictionaries: loading QuickFIX-format XML and validating messages."""
