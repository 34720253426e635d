"""Saved and exported app inventories, read by content (see connector.py)."""

from scanner.connectors.files.connector import ACCEPTED_FORMATS, MAX_PROBLEMS, FileConnector, read_input

__all__ = ["ACCEPTED_FORMATS", "FileConnector", "MAX_PROBLEMS", "read_input"]
