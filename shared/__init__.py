"""Mechanisms every RepitBot process imports: settings, database, events, bus, auth, HTTP plumbing."""
