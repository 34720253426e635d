"""iPhones and iPads through usbmuxd and lockdownd (pymobiledevice3): listing, reading, pairing."""
