"""The SMART on FHIR detail app behind the cards (`/smart/`)."""
