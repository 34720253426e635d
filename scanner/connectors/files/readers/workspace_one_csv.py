"""Workspace ONE UEM (Omnissa, formerly AirWatch) console exports as CSV, one
row per app per device: an app's device list (Apps & Books > the app > Devices
> Export) or a devices list with app columns (Devices > List View > Export),
under the console's labels.

Verified against: nothing. research/mdm-inventories.md §7 says these exports
exist and that their header names were not found. Accepted as the plausible
labels (the API's field names, spelled as a console writes them): the device
as "Friendly Name" / "Device Friendly Name" / "Device Name", "Device ID",
"Serial Number", "UDID", "User" / "Username" / "Email Address",
"Platform" / "OS" (values such as "Apple", "Apple iOS", "Android", "Apple
macOS", "Windows Desktop"), "Model", "OS Version", "Last Seen"; the app as
"Application Identifier" / "Bundle ID" / "App ID" / "Package ID",
"Application Name" / "App Name" / "Name", "Version" / "Installed Version";
headers in any case, `,` `;` or tab delimited, with a BOM, quoted or not.
Recognised by an app column together with a column only Workspace ONE names
so (Friendly Name, Organization Group, Last Seen). The app list of Apps &
Books without devices is a catalog, not an inventory: it names no device and
is failed as such, its text still searched.

A device is keyed "Workspace ONE id <id>" (the key workspace_one gives the
API's answers), else its serial, UDID or friendly name. A row of no platform
is checked as on Android and on iOS (the console manages both). Computers
(macOS, Windows) are listed as not checked. What Workspace ONE's inventory
cannot see is said on every device (a personal device's privacy settings can
leave out the apps the user installed): partial with reason mdm-scope, never
complete. A row without an identifier is an app by display name.
"""

from __future__ import annotations

from scanner.connectors.files.readers.app_rows import RowFormat, csv_reader

__all__ = ["FORMAT", "READER"]

FORMAT = RowFormat(
    system="Workspace ONE console export",
    columns={
        "deviceid": "device id",
        "friendlyname": "device name", "devicefriendlyname": "device name", "devicename": "device name",
        "serialnumber": "serial", "udid": "udid", "user": "user", "username": "user", "enrollmentuser": "user",
        "emailaddress": "user", "useremail": "user", "platform": "platform", "os": "platform",
        "deviceplatform": "platform", "model": "model", "osversion": "os version", "lastseen": "date",
        "applicationidentifier": "app id", "appidentifier": "app id", "bundleid": "app id", "appid": "app id",
        "applicationid": "app id", "packageid": "app id", "packagename": "app id", "identifier": "app id",
        "applicationname": "app name", "appname": "app name", "name": "app name",
        "version": "version", "installedversion": "version", "appversion": "version",
        "applicationversion": "version", "buildversion": "build",
    },
    marks=frozenset({"friendlyname", "devicefriendlyname", "organizationgroup", "organisationgroup", "lastseen"}),
    key="Workspace ONE id {}",
    platform=None,
    blind=("Workspace ONE's inventory is what the device reports to it: a personal device's privacy settings can "
           "leave out the apps the user installed, and the export does not say which devices those are"),
    advice="scan the phone itself over USB to check every app",
    export="export the list again from the Workspace ONE console and rescan",
)


READER = csv_reader(FORMAT, name="workspace-one-csv", help="a Workspace ONE console CSV",
                    description="a Workspace ONE UEM console export as CSV (apps with their devices)")
