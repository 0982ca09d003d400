"""CDS Hooks cards: typed records that enforce the specification, and (later) the card builders."""
