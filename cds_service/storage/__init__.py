"""Durable storage: issued cards, clinicians' feedback and the JWT replay store (SQLAlchemy 2)."""
