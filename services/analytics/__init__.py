"""The analytics service: the event store of everything that happened, learning metrics, reports, CSV export."""
