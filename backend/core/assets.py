"""Where the app's files that are not Python live: templates, static files, migrations.

In the repo they sit beside the packages (frontend/, alembic/), where the frontend engineers edit
them; the wheel ships the same folders as the packages closetchat_frontend and closetchat_migrations
(pyproject.toml), so an installed closetchat serves from any working directory. The repo's own
folders win when present, so an editable install made before that mapping existed still works.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _folder(repo_name: str, package: str, marker: str) -> Path:
    """The repo's folder when this is a checkout (told by a file only it has: an installed wheel's
    site-packages holds the alembic library under the same name), else the installed package."""
    in_repo = REPO_ROOT / repo_name
    if (in_repo / marker).exists():
        return in_repo
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{repo_name}/ is missing: neither {in_repo} nor the installed package {package} exists")
    return Path(next(iter(spec.submodule_search_locations)))


FRONTEND_DIR = _folder("frontend", "closetchat_frontend", "templates/base.html")
TEMPLATES_DIR = FRONTEND_DIR / "templates"
STATIC_DIR = FRONTEND_DIR / "static"
MIGRATIONS_DIR = _folder("alembic", "closetchat_migrations", "env.py")
