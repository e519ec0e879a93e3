"""Singer tap for Intercom support data and the events derived from it."""
