"""tproutine: guided trigger-point and stretching routines, with BLE massage devices."""

__version__ = "0.1.0"
