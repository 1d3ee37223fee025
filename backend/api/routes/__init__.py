"""JSON API routes: /api/v1, the seed-compatible /fashion-mnist, health and metrics."""
