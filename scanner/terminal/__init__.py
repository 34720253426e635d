"""What the person at the terminal sees besides the report: escaped text, live progress."""
