"""Dashboards: hourly rollups kept by a beat task, and the charts read from them."""
