"""Session Ledger: an event-sourced ledger of user login sessions with CQRS read models."""

__version__ = "0.1.0"
