"""Saved and exported app inventories, read by content (see connector.py)."""

from scanner.connectors.files.connector import ACCEPTED_FORMATS, INPUT_HELP, MAX_PROBLEMS, FileConnector, read_input

__all__ = ["ACCEPTED_FORMATS", "INPUT_HELP", "MAX_PROBLEMS", "FileConnector", "read_input"]
