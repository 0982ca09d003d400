"""Authentication of CDS clients: CDS Hooks JWTs (RFC 7519) verified against trusted issuers."""
