"""The record grammars that a live reader and a file reader share.

pm                  a `pm list packages` line, pm's refusal of a user, adb's status lines
installation_proxy  one app record of an iOS Lookup (live, or saved by pymobiledevice3 apps list)
json_values         the checks of JSON values those records and saved reports are read with

A phone read live and the same list saved to a file are read by one piece of
code, so they cannot disagree. Nothing here does I/O.
"""
