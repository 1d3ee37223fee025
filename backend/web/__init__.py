"""HTML routes: full pages, or partials when HTMX asks."""
