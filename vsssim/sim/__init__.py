"""The deterministic core: the kernel, per-site choice streams, the trace and its vocabulary."""
