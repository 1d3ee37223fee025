"""ClosetChat's web application: FastAPI routes, services and the database."""
