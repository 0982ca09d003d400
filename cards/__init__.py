"""CDS Hooks cards; no Flask.

- `cds_card`: the card as a typed record that enforces the specification.
- `diabetes_cards` (entry point and estimate cards), `diabetes_labs` (the ADA laboratory
  criteria), `diabetes_results` (reading and showing results), `diabetes_screening` (which
  recommendation a suggestion follows, and the orders).
- `hypertension_cards` (entry point), `hypertension_populations` (treated and known
  hypertension, adolescents), `hypertension_children`, `hypertension_pregnancy` (pregnancy and
  postpartum), `hypertension_unmeasured` (no reading in a year), `home_blood_pressure` (a home
  series against the office), `blood_pressure_parts` (how a pressure is written, the orders).
- `note_card`: the note summary's card.
- `card_parts`, `explanation`: the pieces they share (suggestions as FHIR resources, links,
  the reasons in clinical words, numbers never shown across a cut-off).
- `policy`: the bands and feedback history the rules read (their values: `[cards]` settings).
"""
