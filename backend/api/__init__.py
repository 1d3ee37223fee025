"""JSON routes, one router a resource, versioned under /api/v1 (plus the seed's endpoint)."""
