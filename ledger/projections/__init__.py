"""Read models (views) and outbound processes that follow the log; see registry.py."""
