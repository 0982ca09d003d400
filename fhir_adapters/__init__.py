"""FHIR access and the mapping from FHIR R4 to plain patient records (no Flask)."""
