"""The VSS model: constants, state tables, volumes, metadata, coordinator, writers, providers."""
