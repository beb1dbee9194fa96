"""Assets, checks and automation for the ServiceTitan CRM v2 source."""
