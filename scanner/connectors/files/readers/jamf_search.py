"""Jamf Pro advanced search results exported as CSV (Devices > Search
Inventory > an advanced mobile device search with Applications criteria and
display fields > Export > CSV; or tab-delimited): one row per app per device,
with the display fields the admin picked, under Jamf's UI labels.

Verified against: nothing. research/mdm-inventories.md §3.4 says the export
exists and that its columns are whatever display fields were chosen, with
their labels unverified. Accepted as the plausible labels: the device as
"Jamf Pro ID" / "Mobile Device ID" / "ID", "Display Name" / "Mobile Device
Name" / "Device Name", "Serial Number", "UDID", "Username" / "Email Address",
"Model", "OS Version" / "iOS Version", "OS Type", "Last Inventory Update"; the
app as "App Identifier" / "Application Identifier" / "Bundle ID" /
"Identifier", "App Name" / "Application Name" / "Application Title", "App
Short Version" / "Short Version" (the version people see) and "App Version"
(CFBundleVersion); headers in any case, `,` `;` or tab delimited, with a BOM,
quoted or not. Recognised by an app column together with a column only Jamf
names so (Jamf Pro ID, Mobile Device ID or Name, Display Name, Last Inventory
Update, Computer Name). A computer search ("Computer Name", "Application
Title") is of Macs: every row is listed as not checked, counted per computer.

A device is keyed by its Jamf Pro id ("Jamf id 42", the key the Classic API
and Jamf Pro API readers give it: one device when read from both in one
input), else its serial, UDID or name. What Jamf's inventory cannot see is
said on every device (jamf_common.BLIND): partial with reason mdm-scope, never
complete. A row without an identifier is an app by display name (evidence
"name").
"""

from __future__ import annotations

from scanner.connectors.files.readers.app_rows import RowFormat, csv_reader
from scanner.connectors.files.readers.jamf_common import ADVICE, BLIND, JAMF_KEY

__all__ = ["FORMAT", "READER"]

FORMAT = RowFormat(
    system="Jamf Pro advanced search export",
    columns={
        "jamfproid": "device id", "jamfid": "device id", "jssid": "device id", "mobiledeviceid": "device id",
        "id": "device id", "computerid": "device id",
        "displayname": "device name", "mobiledevicename": "device name", "devicename": "device name",
        "computername": "device name",
        "serialnumber": "serial", "udid": "udid", "username": "user", "emailaddress": "user", "model": "model",
        "osversion": "os version", "iosversion": "os version", "ostype": "platform", "platform": "platform",
        "lastinventoryupdate": "date", "lastinventoryupdateutc": "date",
        "appidentifier": "app id", "applicationidentifier": "app id", "bundleid": "app id",
        "bundleidentifier": "app id", "identifier": "app id", "appbundleid": "app id",
        "applicationbundleid": "app id",
        "appname": "app name", "applicationname": "app name", "applicationtitle": "app name", "apptitle": "app name",
        "appshortversion": "version", "shortversion": "version", "applicationshortversion": "version",
        "appversion": "build", "applicationversion": "build",
    },
    marks=frozenset({"jamfproid", "jssid", "mobiledeviceid", "mobiledevicename", "displayname",
                     "lastinventoryupdate", "lastinventoryupdateutc"}),
    key=JAMF_KEY,
    platform="ios",
    blind=BLIND,
    advice=ADVICE,
    export="export the advanced search again (with App Identifier among its display fields) and rescan",
    whole=(("computername", ("macos", "a Mac")),),
)


READER = csv_reader(FORMAT, name="jamf-search-csv", help="a Jamf Pro advanced search CSV",
                    description="a Jamf Pro advanced search exported as CSV (with application display fields)")
