"""Android through the adb server: listing, reading, the server itself, what its errors mean."""
