"""Where beat leaves word of its latest tick (the cache), for /healthz to read."""

HEARTBEAT_KEY = "cipdash:beat:last-tick"
