"""The XML documents: Writer Metadata, Backup Components, and the bounded XML reader."""
