"""Microsoft Intune's app inventories: the Discovered-apps reports as CSV
(discovered) and as their columns/values JSON (columns), read row by row
(rows); and the Microsoft Graph answers: detectedApps and managedDevices
(graph), restricted-apps violations (violations), their pages (pages). Each
module with a READER is registered in readers.READERS."""
