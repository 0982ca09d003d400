"""CDS Hooks cards; no Flask.

- `cds_card`: the card as a typed record that enforces the specification.
- `diabetes_cards`, `hypertension_cards`, `note_card`: when each card is shown and its words.
- `card_parts`, `explanation`: the pieces they share (suggestions as FHIR resources, links,
  the reasons in clinical words).
- `policy`: the bands and feedback history the rules read (their values: `[cards]` settings).
"""
