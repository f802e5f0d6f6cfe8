"""The package's version, defined once: the build reads it here and so do the package and the CLI
(which must answer ``--version`` from a source checkout too, where no metadata is installed)."""

__version__ = "0.1.0"
