"""What the engine tells the outside about itself, apart from the protocol
code: metrics, tracing, logs, readiness and the HTTP endpoint serving them."""
