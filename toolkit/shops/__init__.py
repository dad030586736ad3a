"""A shop's purchase history: the canonical table, reading client files, column maps, validation
with quarantine, the weekly volume check, and synthetic shops grounded in real bodies."""
