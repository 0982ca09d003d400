"""The CDS Hooks service: the Flask app, its authentication, storage and command line."""
