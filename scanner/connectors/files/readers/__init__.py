"""The readers behind scanner.connectors.files, one module per format.

source     the input as numbered lines, and the problem counter
detect     which format an input is, from its first lines
pm, ideviceinstaller, pymobiledevice3, report, fleet_csv
           one parser per format
common     the Inventory built from what was read, and checks all parsers share
csv_rows, json_values
           CSV records and JSON values read the same way by the parsers that need them

Import from scanner.connectors.files; what is here may move.
"""
