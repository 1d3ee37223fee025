"""Process-wide parts: settings, database, identity and security, errors, metrics, serving."""
